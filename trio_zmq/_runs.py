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

**Trusting the internals** (:func:`current_owner_token`). A Trio that keeps
those names but changes what they mean would not fail the attribute
lookups: cancel points would be skipped without a sound. So each run checks,
once, when trio_zmq first meets it (the first socket made in it, or its
first call on a socket), that the fast check agrees with Trio's public API: the run context's token
is ``current_trio_token()``; in a cancelled ``CancelScope`` the fast check
asks for the full entry, where Trio's public ``checkpoint_if_cancelled()``
would suspend to raise ``Cancelled``; in a shielded one it goes ahead, where
that call completes at once, and each counts exactly one cancel point on
the counter ``trio.testing``'s checkpoint assertions read. If any of that
fails (or cannot be checked: no current task, a ``KeyboardInterrupt``
pending), the sockets of that run keep a stand-in for the run's token that
no run has, so :func:`needs_full_entry` says "full entry" for every one of
their calls, and every call takes the public path. The fast check itself
gains nothing: the verdict lives in the token the socket already passes.
The ``KeyboardInterrupt`` half of the decision is not cross-checked (Trio
has no public view of it); were it to lie, Ctrl-C would arrive at the
call's next schedule point instead.

**The life of a run** (:class:`RunLife`). The synchronous calls that composed
parts make per message (the ``*_nowait`` twins, the ``events`` property)
check something cheaper still that means the same: the caller is on the
owner's thread, and the owner's run has not ended. While that run goes on,
it is the only run its thread can be in; once it has ended, the full check
decides. A run learns that it ended through an instrument whose only hook
is ``after_run``, which costs Trio nothing per task or per step.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, final

import trio
from trio.lowlevel import (
    RunVar,
    add_instrument,
    checkpoint_if_cancelled,
    current_task,
    current_trio_token,
)

from ._checkpoints import count

if TYPE_CHECKING:
    from collections.abc import Iterator

    from trio.lowlevel import Task, TrioToken

__all__ = ["ENDED", "RunLife", "current_owner_token", "current_run_life", "needs_full_entry"]

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
    *token* is the one the socket keeps (:func:`current_owner_token`): its
    run's token, or a stand-in that never matches where the run does not
    trust this check. It is never None: a run makes its token when first
    asked for it, and until then its ``trio_token`` is None.
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
class _StandIn:
    """Stands in for a run's token where the fast check is not trusted: no run has it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<trio_zmq: a run whose calls all take the public entry>"


@final
class RunLife:
    """One run's liveness, the token its sockets keep, and its count of calls
    that completed at once (``_checkpoints.py``), shared by every socket it owns.

    *token* is the run's ``TrioToken`` when the fast check is trusted in the
    run, a stand-in that no run has when it is not (see
    :func:`current_owner_token`).
    """

    __slots__ = ("__weakref__", "alive", "ticks", "token")

    ticks: Iterator[bool]

    def __init__(self, token: TrioToken, alive: bool = True) -> None:
        self.token = token
        self.alive = alive
        count(self)


def _stand_in() -> Any:  # typed Any: it stands where a TrioToken goes
    return _StandIn()


#: The life of no run at all: a socket no run owns yet.
ENDED = RunLife(_stand_in(), alive=False)

_LIFE: RunVar[RunLife] = RunVar("trio_zmq_run_life")


class _Undertaker(trio.abc.Instrument):
    def __init__(self, life: RunLife) -> None:
        self._life = life

    def after_run(self) -> None:
        self._life.alive = False


def current_run_life() -> RunLife:
    """The current run's life (made, checked and watched on first use in the run).

    Raises:
        RuntimeError: not in a Trio run.
    """
    try:
        return _LIFE.get()
    except LookupError:
        token = current_trio_token()
        life = RunLife(token if _fast_check_is_sound(token) else _stand_in())
        _LIFE.set(life)
        add_instrument(_Undertaker(life))
        return life


def current_owner_token() -> TrioToken:
    """The token that a socket owned by the current run keeps, for :func:`needs_full_entry`.

    The run's own ``TrioToken`` when the fast check agreed with Trio's public
    API in this run; otherwise a stand-in unique to the run, which the fast
    check never matches, so every call of the run's sockets takes the full,
    public entry. Either way, it is the same object for every socket of the
    run and differs from every other run's: the owner check compares it.

    Raises:
        RuntimeError: not in a Trio run.
    """
    return current_run_life().token


def _public_check_suspends() -> bool:
    """Whether Trio's public ``checkpoint_if_cancelled()`` would suspend here.

    It completes at once (having counted a cancel point) unless the task is
    cancelled, or is the main task with a ``KeyboardInterrupt`` pending; then
    it suspends for a checkpoint that raises. It is run by hand up to that
    suspension and abandoned there, before the scheduler sees it.
    """
    step = checkpoint_if_cancelled()  # noqa: ASYNC105 - driven by hand, below
    try:
        step.send(None)
    except StopIteration:
        return False
    step.close()
    return True


def _fast_check_is_sound(token: TrioToken) -> bool:
    """Whether :func:`needs_full_entry` decides and counts as Trio's public API does.

    Run once per run, from :func:`current_run_life`. It never yields, and it
    leaves the task's count of cancel points as it found it (a user's
    ``assert_no_checkpoints()`` around the first ``ctx.socket()`` of a run
    still holds). Any surprise, an exception included, means "not sound".
    """
    try:
        task = current_task()
        found = task._cancel_points  # the count trio.testing's assertions read
    except (RuntimeError, AttributeError):  # no task (an instrument, say), or no count
        return False
    try:
        return _agrees_with_trio(task, token, found)
    except Exception:  # a Trio laid out otherwise, in a way not foreseen
        return False
    finally:
        with contextlib.suppress(Exception):
            task._cancel_points = found


def _agrees_with_trio(task: Task, token: TrioToken, found: int) -> bool:
    if _RUN.task._runner.trio_token is not token or not needs_full_entry(_StandIn()):
        return False
    # The scopes below hold no await on purpose: each is entered for the cancel
    # status it gives the task, which both checks read without yielding.
    with trio.CancelScope() as scope:  # noqa: ASYNC100 - see above
        scope.cancel()
        # Cancelled: both ask for a checkpoint, and neither counts one yet.
        cancelled_agrees = (
            needs_full_entry(token) and _public_check_suspends() and task._cancel_points == found
        )
    if not cancelled_agrees:
        return False
    with trio.CancelScope(shield=True):  # noqa: ASYNC100 - see above
        # Not cancelled: both go ahead, and each counts exactly one cancel point.
        if _public_check_suspends():  # a KeyboardInterrupt is pending: no telling now
            return False
        trios_count = task._cancel_points - found
        ours_goes_ahead = not needs_full_entry(token)
        ours_count = task._cancel_points - found - trios_count
    return trios_count == 1 and ours_goes_ahead and ours_count == 1
