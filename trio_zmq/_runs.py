"""Which Trio run a call comes from, cheaply: the entry check and the run's life.

A socket belongs to one run, in one thread, and every async call is a
cancel point. Both checks sit at the start of every call, so they must cost
little next to a small send (about a third of a microsecond in libzmq).

**The entry of an async call** (:func:`needs_full_entry`). Trio's public
``checkpoint_if_cancelled`` is a coroutine that looks up the current task;
``current_trio_token()`` looks up the run again. Together they cost twice
what the rest of a small send costs. :func:`needs_full_entry` reads the
current task once from Trio's run context and makes the same decision as
``checkpoint_if_cancelled`` (the task's cancel status, a pending
``KeyboardInterrupt`` for the main task) and the owner check, in one plain
function call, counting the cancel point as Trio does (``trio.testing``'s
checkpoint assertions read that count). Whenever it cannot decide (a
cancelled task, another run's socket, no Trio task at all, or a Trio whose
internals are laid out otherwise) it says so, and the caller takes the full,
public path. ``tests/test_runs.py`` checks that the fast path is taken on
the installed Trio, and that both paths decide alike.

**The life of a run** (:class:`RunLife`). The synchronous calls that composed
parts make per message (the ``*_nowait`` twins, the ``events`` property)
check something cheaper still that means the same: the caller is on the
owner's thread, and the owner's run has not ended. While that run goes on,
it is the only run its thread can be in; once it has ended, the full check
decides. A run learns that it ended through an instrument whose only hook
is ``after_run``, which costs Trio nothing per task or per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import trio
from trio.lowlevel import RunVar, add_instrument

from ._checkpoints import count

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ENDED", "RunLife", "current_run_life", "needs_full_entry"]

# Trio's run context: a thread-local whose ``task`` is the current task while
# a task runs (missing otherwise). Where a Trio keeps it elsewhere, every call
# takes the full path.
_RUN: Any
try:
    from trio._core._run_context import GLOBAL_RUN_CONTEXT as _RUN
except ImportError:  # Trio before 0.30 kept it in _run
    try:
        from trio._core._run import GLOBAL_RUN_CONTEXT as _RUN
    except ImportError:  # pragma: no cover - a Trio laid out otherwise
        _RUN = None


def needs_full_entry(token: object) -> bool:
    """Whether an async call must take the full entry, or may go ahead at once.

    False, having counted a cancel point: the caller is a Trio task that is
    not cancelled, with no ``KeyboardInterrupt`` pending, in the run whose
    token is *token*. True otherwise, or when in doubt: the caller then
    awaits ``checkpoint_if_cancelled()`` and checks its run the public way.
    *token* is never None: a run makes its token when first asked for it,
    and until then its ``trio_token`` is None.
    """
    try:
        task = _RUN.task
        runner = task._runner
        if (
            token is not runner.trio_token
            or task._cancel_status.effectively_cancelled
            or (runner.ki_pending and task is runner.main_task)
        ):
            return True
        task._cancel_points += 1
    except AttributeError:  # no current task, or unknown internals
        return True
    return False


@final
class RunLife:
    """One run's liveness, shared by every socket that run owns, and its
    count of calls that completed at once (``_checkpoints.py``)."""

    __slots__ = ("__weakref__", "alive", "ticks")

    ticks: Iterator[bool]

    def __init__(self, alive: bool = True) -> None:
        self.alive = alive
        count(self)


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
