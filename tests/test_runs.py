"""The entry check of every async call, and a run's life (``trio_zmq/_runs.py``).

``needs_full_entry`` reads Trio's internals to make, in one plain call, the
decision that ``checkpoint_if_cancelled`` and ``current_trio_token`` make
the public way. These tests pin that the fast path is taken on the installed
Trio (so a Trio laid out otherwise shows up here, not as a quiet slowdown)
and that it never says "go ahead" where the public path would not.
"""

from __future__ import annotations

import threading

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


async def test_a_socket_of_another_run_is_still_refused() -> None:
    async with trio_zmq.Context() as ctx:
        a, _ = pair(ctx, zmq.PAIR, zmq.PAIR)
        await a.send(b"adopted")
        errors: list[BaseException] = []

        def other_run() -> None:
            async def use() -> None:
                await a.send(b"from another run")

            try:
                trio.run(use)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_run)
        thread.start()
        await trio.to_thread.run_sync(thread.join)
        assert len(errors) == 1
        assert isinstance(errors[0], RuntimeError)
        assert "belongs to the trio.run()" in str(errors[0])
