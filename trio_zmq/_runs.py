"""Whether a Trio run is still going: the cheap half of the one-owner check.

A socket belongs to one run, in one thread. Asking Trio which run is current
costs more than a small send (a thread-local lookup), so the synchronous
calls that composed parts make per message (the ``*_nowait`` twins, the
``events`` property) check something cheaper that means the same: the caller
is on the owner's thread, and the owner's run has not ended. While that run
goes on, it is the only run its thread can be in; once it has ended, the
full check decides. A run learns that it ended through an instrument whose
only hook is ``after_run``, which costs Trio nothing per task or per step.
"""

from __future__ import annotations

from typing import final

import trio
from trio.lowlevel import RunVar, add_instrument

__all__ = ["ENDED", "RunLife", "current_run_life"]


@final
class RunLife:
    """One run's liveness, shared by every socket that run owns."""

    __slots__ = ("alive",)

    def __init__(self, alive: bool = True) -> None:
        self.alive = alive


#: The life of no run at all: a socket no run owns yet.
ENDED = RunLife(alive=False)

_LIFE: RunVar[RunLife] = RunVar("trio_zmq_run_life")


class _Undertaker(trio.abc.Instrument):
    def __init__(self, life: RunLife) -> None:
        self._life = life

    def after_run(self) -> None:
        self._life.alive = False


def current_run_life() -> RunLife:
    """The current run's life (made, and watched, on first use in the run)."""
    try:
        return _LIFE.get()
    except LookupError:
        life = RunLife()
        _LIFE.set(life)
        add_instrument(_Undertaker(life))
        return life
