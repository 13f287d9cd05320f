"""Who may call a socket: the run that owns it, unless a worker thread has borrowed it.

A ZeroMQ socket is not thread-safe. A trio_zmq socket belongs to the Trio
run that made it, in that run's thread (a socket made outside any run
belongs to the first run that uses it). A call from anywhere else is
refused with ``RuntimeError`` before it changes anything. While a worker
thread borrows the raw socket (:meth:`Owner.lend`; the libzmq proxy's
thread does), every call is refused with ``trio.BusyResourceError`` naming
the borrower, until the borrower gives it back.

The verdict costs the hot path nothing. An async call compares
:attr:`Owner.token` with the current run's token inside
``needs_full_entry`` (``_runs.py``), which it reads anyway; a lent socket's
token is a stand-in that no run has, so every async call on it takes the
full entry, which asks :meth:`Owner.admit`. The synchronous calls ask
:meth:`Owner.check`, whose common case is three plain comparisons: the
caller is on the owner's thread, and the owner's run is still going (then
that run is the caller's; see ``RunLife`` in ``_runs.py``).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, final

import trio

from ._ki import call_user, protect_methods
from ._runs import ENDED, RunLife, current_owner_token, current_run_life

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from trio.lowlevel import TrioToken

__all__ = ["Owner"]

_LENT: Any = object()  # stands in for the run token while the socket is lent
_UNOWNED: Any = object()  # the run token of a socket that no run has used yet
_get_ident = threading.get_ident


def _caller_token() -> TrioToken | None:
    try:
        return current_owner_token()
    except RuntimeError:  # not in any run: another thread, or after trio.run
        return None


@final
class _Loan:
    """A lent socket's way back (see :meth:`Owner.lend` and :meth:`Owner.reclaim`)."""

    __slots__ = ("owner", "recall", "returned")

    def __init__(self, owner: TrioToken, recall: Callable[[], object] | None) -> None:
        self.owner = owner  # the run token, put back when the socket is returned
        self.recall = recall
        self.returned = trio.Event()


@final
class Owner:
    """The run and thread one socket belongs to, and who has borrowed it.

    Attributes:
        token: the owning run's token, as ``needs_full_entry`` compares it
            (a stand-in while no run owns the socket, or while it is lent).
        life: the owning run's life (its liveness and its fairness count).
        lent_to: who has borrowed the socket, or ``None``.
    """

    __slots__ = ("_loan", "_thread", "lent_to", "life", "token")

    def __init__(self) -> None:
        self.token: TrioToken
        self.life: RunLife
        self._thread: int | None
        try:
            self.token = current_owner_token()
        except RuntimeError:  # made outside a run: adopted by the first run to use it
            self.token = _UNOWNED
            self._thread = None
            self.life = ENDED
        else:
            self._thread = _get_ident()
            self.life = current_run_life()
        self.lent_to: str | None = None
        self._loan: _Loan | None = None

    def busy(self) -> trio.BusyResourceError:
        return trio.BusyResourceError(
            f"this socket is in use by {self.lent_to}; it cannot be used until that stops"
        )

    def check(self) -> None:
        """Refuse a caller that is not the owner, or any caller while the socket is lent."""
        if self.lent_to is None and self.life.alive and self._thread == _get_ident():
            return
        if self.lent_to is not None:
            raise self.busy()
        self.check_caller()

    def admit(self) -> None:
        """The full entry's check, when the caller's run token is not :attr:`token`.

        The first run to use an unowned socket adopts it; a lent socket, or
        any other run, is refused.
        """
        if self.lent_to is not None:
            raise self.busy()
        self.check_caller()

    def check_caller(self) -> None:
        """Refuse a caller from another run or thread (whether or not the socket is lent)."""
        # Outside any run, on the owner's thread, the owner's run is over (it
        # would be current otherwise), so nothing can race the call: closing a
        # socket after trio.run() returned is fine.
        token = _caller_token()
        owner = self.token if self._loan is None else self._loan.owner
        if token is owner:
            return
        if owner is _UNOWNED:
            if token is not None:
                self.token = token
                self._thread = _get_ident()
                self.life = current_run_life()
            return
        if token is None and self._thread == _get_ident():
            return
        if token is None:
            where = "from another thread"
            fix = "; from a worker thread, use trio.from_thread.run_sync(...) to call it in its run"
        else:
            where = "from another trio.run()"
            fix = ": create the socket in the run and thread that use it"
        raise RuntimeError(
            f"this trio_zmq socket belongs to the trio.run() that first used it, and was "
            f"called {where} (ZeroMQ sockets are not thread-safe){fix}"
        )

    @contextlib.contextmanager
    def lend(self, borrower: str, recall: Callable[[], object] | None) -> Iterator[None]:
        """Refuse every caller as busy, naming *borrower*, for the ``with`` block.

        The caller checked that it may use the socket.
        """
        loan = _Loan(self.token, recall)
        self.lent_to = borrower
        self.token = _LENT
        self._loan = loan
        try:
            yield
        finally:
            self.lent_to = None
            self.token = loan.owner
            self._loan = None
            loan.returned.set()

    async def reclaim(self) -> None:
        """Ask the borrower to give the socket back, and wait until it has (see ``Socket.reclaim``)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        loan = self._loan
        if loan is None:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if _caller_token() is not loan.owner:
            raise RuntimeError(
                "a lent trio_zmq socket can be reclaimed only from the trio.run() that lent it"
            )
        if loan.recall is None:
            raise trio.BusyResourceError(
                f"this socket is in use by {self.lent_to}, which cannot be asked to give it back"
            )
        call_user(loan.recall)  # the borrower's code
        await loan.returned.wait()


protect_methods(Owner)
