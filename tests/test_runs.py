"""The entry check of every async call, and a run's life (``trio_zmq/_runs.py``).

``needs_full_entry`` reads Trio's internals to make, in one plain call, the
decision that ``checkpoint_if_cancelled`` and ``current_trio_token`` make
the public way. These tests pin that the fast path is taken on the installed
Trio (so a Trio laid out otherwise shows up here, not as a quiet slowdown)
and that it never says "go ahead" where the public path would not.

Each run first checks that the internals mean what the fast check assumes.
A Trio whose internals lie is simulated by showing trio_zmq a view of the
current task that lies one way or another (``effectively_cancelled`` always
False; ``_cancel_points`` dropping writes) while Trio itself runs as ever:
the run is then not trusted, and every call is still a cancel point.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq import _runs

from .helpers import pair


async def test_the_run_context_agrees_with_trios_public_api() -> None:
    token = trio.lowlevel.current_trio_token()  # made when first asked for
    assert _runs._RUN.task is trio.lowlevel.current_task()
    assert _runs._RUN.task._runner.trio_token is token


async def test_the_fast_entry_is_taken_and_counts_a_cancel_point() -> None:
    token = trio.lowlevel.current_trio_token()
    task = trio.lowlevel.current_task()
    before = task._cancel_points
    assert not _runs.needs_full_entry(token)
    assert task._cancel_points == before + 1


async def test_a_cancelled_task_takes_the_full_entry() -> None:
    token = trio.lowlevel.current_trio_token()
    with trio.CancelScope() as scope:
        scope.cancel()
        assert _runs.needs_full_entry(token)
        with trio.CancelScope(shield=True):
            assert not _runs.needs_full_entry(token)  # shielded: not cancelled


async def test_another_runs_token_takes_the_full_entry() -> None:
    trio.lowlevel.current_trio_token()
    assert _runs.needs_full_entry(object())


async def test_no_current_task_takes_the_full_entry() -> None:
    token = trio.lowlevel.current_trio_token()
    assert await trio.to_thread.run_sync(_runs.needs_full_entry, token)


def test_a_pending_keyboard_interrupt_takes_the_full_entry() -> None:
    async def main() -> tuple[bool, bool]:
        token = trio.lowlevel.current_trio_token()
        runner = trio.lowlevel.current_task()._runner
        runner.ki_pending = True
        try:
            pending = _runs.needs_full_entry(token)
        finally:
            runner.ki_pending = False
        return pending, _runs.needs_full_entry(token)

    assert trio.run(main) == (True, False)


def test_unknown_internals_take_the_full_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runs, "_RUN", None)

    async def main() -> bytes:
        async with trio_zmq.Context() as ctx:
            a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
            assert _runs.needs_full_entry(trio.lowlevel.current_trio_token())
            await a.send(b"still works")
            with trio.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(trio.Cancelled):
                    await b.recv()
            return await b.recv()

    assert trio.run(main) == b"still works"


async def test_socket_calls_are_cancel_points_on_the_fast_path(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send(b"one")  # the sockets are adopted by this run
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await a.send(b"two")
        with pytest.raises(trio.Cancelled):
            await b.recv()
    assert await b.recv() == b"one"  # the cancelled receive took nothing
    with pytest.raises(trio.WouldBlock):
        b.recv_nowait()  # and the cancelled send sent nothing


async def _send_from_another_run(sock: trio_zmq.Socket) -> list[BaseException]:
    """Send on *sock* from a trio.run() in another thread; what that run raised."""
    errors: list[BaseException] = []

    def other_run() -> None:
        async def use() -> None:
            await sock.send(b"from another run")

        try:
            trio.run(use)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_run)
    thread.start()
    await trio.to_thread.run_sync(thread.join)
    return errors


async def test_a_socket_of_another_run_is_still_refused() -> None:
    async with trio_zmq.Context() as ctx:
        a, _ = pair(ctx, zmq.PAIR, zmq.PAIR)
        await a.send(b"adopted")
        errors = await _send_from_another_run(a)
        assert len(errors) == 1
        assert isinstance(errors[0], RuntimeError)
        assert "belongs to the trio.run()" in str(errors[0])


# --- Trusting the internals: each run checks the fast path against Trio's public API.

LIMIT = 10  # seconds: the bound of the tests that start their own trio.run()


class _NeverCancelled:
    effectively_cancelled = False


class _LyingTask:
    """The current task as a Trio that kept the names but changed their meaning shows it.

    *lie* is ``"never cancelled"`` (``effectively_cancelled`` always reads
    False) or ``"counts nothing"`` (``_cancel_points`` takes writes and drops
    them). Trio itself, and its public API, go on as ever.
    """

    def __init__(self, task: trio.lowlevel.Task, lie: str) -> None:
        self._task = task
        self._lie = lie

    @property
    def _runner(self) -> Any:
        return self._task._runner

    @property
    def _cancel_status(self) -> Any:
        if self._lie == "never cancelled":
            return _NeverCancelled()
        return self._task._cancel_status

    @property
    def _cancel_points(self) -> int:
        return self._task._cancel_points

    @_cancel_points.setter
    def _cancel_points(self, value: int) -> None:
        if self._lie != "counts nothing":
            self._task._cancel_points = value


class _LyingRunContext:
    def __init__(self, real: Any, lie: str) -> None:
        self._real = real
        self._lie = lie

    @property
    def task(self) -> _LyingTask:
        return _LyingTask(self._real.task, self._lie)  # AttributeError: no task, as Trio's


LIES = ["never cancelled", "counts nothing"]


@pytest.fixture(params=LIES)
def lying_trio(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """trio_zmq's view of Trio's internals lies, one way or the other."""
    lie: str = request.param
    monkeypatch.setattr(_runs, "_RUN", _LyingRunContext(_runs._RUN, lie))
    return lie


@pytest.fixture
def full_entries(monkeypatch: pytest.MonkeyPatch) -> list[trio_zmq.Socket]:
    """The sockets whose calls took the full, public entry, one item per call."""
    entries: list[trio_zmq.Socket] = []
    real_enter = trio_zmq.Socket._enter

    async def counting_enter(self: trio_zmq.Socket) -> None:
        entries.append(self)
        await real_enter(self)

    monkeypatch.setattr(trio_zmq.Socket, "_enter", counting_enter)
    return entries


@pytest.fixture
def strict() -> Iterator[None]:
    """Every call a full schedule point, so that assert_checkpoints() applies to each."""
    before = trio_zmq.strict_checkpoints_enabled()
    trio_zmq.set_strict_checkpoints(True)
    try:
        yield
    finally:
        trio_zmq.set_strict_checkpoints(before)


def _the_lie_fools_the_fast_check(lie: str) -> bool:
    """Whether, unguarded, the fast check would go wrong (so the guard is what holds)."""
    token = trio.lowlevel.current_trio_token()
    task = trio.lowlevel.current_task()
    if lie == "never cancelled":
        with trio.CancelScope() as scope:
            scope.cancel()
            return not _runs.needs_full_entry(token)  # "go ahead", in a cancelled scope
    before = task._cancel_points
    assert not _runs.needs_full_entry(token)
    return task._cancel_points == before  # went ahead, and no cancel point was counted


async def test_the_installed_trio_is_trusted_and_its_calls_take_the_fast_path(
    ctx: trio_zmq.Context, full_entries: list[trio_zmq.Socket]
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    assert _runs.current_run_life().token is trio.lowlevel.current_trio_token()
    for _ in range(3):
        await a.send(b"x")
        assert await b.recv() == b"x"
    await a.send_multipart([b"x", b"y"])
    assert await b.recv_multipart() == [b"x", b"y"]
    assert full_entries == []


async def test_checking_a_run_counts_no_checkpoint(ctx: trio_zmq.Context) -> None:
    with pytest.raises(LookupError):
        _runs._LIFE.get()  # the socket below is the run's first
    with trio.testing.assert_no_checkpoints():
        ctx.socket(zmq.PAIR)
    assert _runs.current_run_life().token is trio.lowlevel.current_trio_token()


async def test_checking_a_run_counts_no_checkpoint_even_in_a_cancelled_scope() -> None:
    with trio.CancelScope() as scope:
        scope.cancel()
        with trio.testing.assert_no_checkpoints():
            life = _runs.current_run_life()
    assert life.token is trio.lowlevel.current_trio_token()


async def test_a_run_is_not_trusted_where_it_cannot_be_checked() -> None:
    token = trio.lowlevel.current_trio_token()
    assert _runs._fast_check_is_sound(token)
    # No current task: nothing to check with.
    assert not await trio.to_thread.run_sync(_runs._fast_check_is_sound, token)
    # Not the run's token.
    assert not _runs._fast_check_is_sound(_runs.ENDED.token)


def test_a_run_is_not_trusted_while_a_keyboard_interrupt_is_pending() -> None:
    async def main() -> tuple[bool, bool]:
        with trio.fail_after(LIMIT):
            token = trio.lowlevel.current_trio_token()
            runner = trio.lowlevel.current_task()._runner
            runner.ki_pending = True
            try:
                with trio.testing.assert_no_checkpoints():
                    pending = _runs._fast_check_is_sound(token)
            finally:
                runner.ki_pending = False
            return pending, _runs._fast_check_is_sound(token)

    assert trio.run(main) == (False, True)


def test_a_trio_whose_internals_lie_is_not_trusted(lying_trio: str) -> None:
    async def main() -> None:
        with trio.fail_after(LIMIT):
            assert _the_lie_fools_the_fast_check(lying_trio)
            token = trio.lowlevel.current_trio_token()
            with trio.testing.assert_no_checkpoints():
                assert not _runs._fast_check_is_sound(token)
                life = _runs.current_run_life()
            assert life.token is not token
            assert _runs.needs_full_entry(life.token)

    trio.run(main)


def test_where_trios_internals_lie_every_call_is_still_a_cancel_point(
    lying_trio: str, full_entries: list[trio_zmq.Socket], strict: None
) -> None:
    async def main() -> list[bytes]:
        with trio.fail_after(LIMIT):
            async with trio_zmq.Context(linger=0) as ctx:
                a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
                assert _the_lie_fools_the_fast_check(lying_trio)
                with trio.testing.assert_checkpoints():
                    await a.send(b"one")
                with trio.CancelScope() as scope:
                    scope.cancel()
                    with pytest.raises(trio.Cancelled):
                        await a.send(b"lost")
                    with pytest.raises(trio.Cancelled):
                        await b.recv()
                    with pytest.raises(trio.Cancelled):
                        await a.send_multipart([b"lost", b"too"])
                with trio.testing.assert_checkpoints():
                    await a.send_multipart([b"two", b"three"])
                with trio.testing.assert_checkpoints():
                    first = await b.recv()
                with trio.testing.assert_checkpoints():
                    rest = await b.recv_multipart()
                with pytest.raises(trio.WouldBlock):
                    b.recv_nowait()  # the cancelled sends sent nothing
                assert len(full_entries) == 7  # every async call took the public entry
                return [first, *rest]

    assert trio.run(main) == [b"one", b"two", b"three"]


def test_where_trios_internals_lie_a_socket_still_refuses_another_run(lying_trio: str) -> None:
    errors: list[BaseException] = []

    async def main() -> None:
        with trio.fail_after(LIMIT):
            async with trio_zmq.Context(linger=0) as ctx:
                a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
                await a.send(b"adopted")
                assert await b.recv() == b"adopted"
                errors.extend(await _send_from_another_run(a))

    trio.run(main)
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "belongs to the trio.run()" in str(errors[0])
