"""Context lifetimes: sockets closed on exit, termination that never hangs."""

from __future__ import annotations

from functools import partial

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import inproc_name, pair


async def test_exit_closes_every_socket_it_made_and_terminates() -> None:
    async with trio_zmq.Context() as ctx:
        a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
        b.close()
        assert repr(ctx).startswith("<trio_zmq.Context 1 sockets")
    assert a.closed
    assert ctx.closed
    assert ctx.underlying.closed


async def test_exit_wakes_tasks_blocked_on_its_sockets() -> None:
    outcomes = []
    async with trio.open_nursery() as nursery, trio_zmq.Context() as ctx:
        sock = ctx.socket(zmq.PULL)

        async def blocked() -> None:
            try:
                await sock.recv()
            except trio.ClosedResourceError:
                outcomes.append("closed")

        nursery.start_soon(blocked)
        await trio.testing.wait_all_tasks_blocked()
    assert outcomes == ["closed"]


async def test_from_context_does_not_terminate_the_wrapped_context() -> None:
    zctx = zmq.Context()
    async with trio_zmq.Context.from_context(zctx) as ctx:
        assert ctx.underlying is zctx
        sock = ctx.socket(zmq.PAIR)
    assert sock.closed
    assert not zctx.closed
    zctx.term()


async def test_waiters_see_closed_when_a_wrapped_context_is_terminated_elsewhere() -> None:
    zctx = zmq.Context()
    ctx = trio_zmq.Context.from_context(zctx)
    sock = ctx.socket(zmq.PULL, linger=0)
    sock.bind("inproc://terminated-elsewhere")
    errors: list[BaseException] = []

    async def receive() -> None:
        try:
            await sock.recv()
        except trio.ClosedResourceError as exc:
            errors.append(exc)
        finally:
            sock.close()  # term() waits for it

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            # term() blocks until the socket is closed: run it in a thread.
            nursery.start_soon(partial(trio.to_thread.run_sync, zctx.term, abandon_on_cancel=True))
    finally:
        sock.close()
    assert len(errors) == 1
    assert "terminated" in str(errors[0])


async def test_from_context_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match="zmq.Context"):
        trio_zmq.Context.from_context(object())  # type: ignore[arg-type]


async def test_a_pyzmq_context_passed_to_the_constructor_is_refused() -> None:
    # pyzmq's Context(other) makes a shadow; an owning trio_zmq context used to
    # terminate it on exit, under the other context's sockets.
    zctx = zmq.Context()
    try:
        with pytest.raises(TypeError, match=r"Context\.from_context\(context\)"):
            trio_zmq.Context(zctx)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="io_threads must be an int, not str"):
            trio_zmq.Context("2")  # type: ignore[arg-type]
        sock = zctx.socket(zmq.PAIR)  # the pyzmq context is untouched
        sock.close()
    finally:
        zctx.term()


async def test_sockets_get_the_default_linger_unless_told_otherwise() -> None:
    async with trio_zmq.Context() as ctx:
        assert ctx.socket(zmq.PUSH).linger == trio_zmq.DEFAULT_LINGER
        assert ctx.socket(zmq.PUSH, linger=-1).linger == -1
    async with trio_zmq.Context(linger=5) as ctx:
        assert ctx.socket(zmq.PUSH).linger == 5


async def test_exit_with_queued_messages_and_no_peer_finishes_within_linger() -> None:
    async with trio_zmq.Context(linger=200) as ctx:
        push = ctx.socket(zmq.PUSH)
        push.connect("tcp://127.0.0.1:1")  # nobody there: messages stay queued
        for _ in range(10):
            await push.send(b"stuck")  # queued on the connecting pipe
    assert ctx.closed  # bounded by the test's fail_after: never hangs


async def test_cancelled_exit_destroys_with_linger_zero() -> None:
    with trio.CancelScope() as scope:
        async with trio_zmq.Context(linger=-1) as ctx:  # would wait forever
            push = ctx.socket(zmq.PUSH)
            push.connect("tcp://127.0.0.1:1")
            scope.cancel()
    assert scope.cancelled_caught
    assert ctx.closed
    assert ctx.underlying.closed


async def test_aclose_twice_is_fine() -> None:
    ctx = trio_zmq.Context()
    await ctx.aclose()
    await ctx.aclose()
    assert ctx.closed


def test_destroy_closes_and_terminates_without_a_run() -> None:
    ctx = trio_zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    ctx.destroy(linger=0)
    assert sock.closed
    assert ctx.underlying.closed


# ----------------------------------------------------------------------
# Sockets lent to a worker thread (Socket.lend) when the context closes

_TAKEN_BACK = pytest.RaisesExc(trio.ClosedResourceError, match="taken back to be closed")


class _Boom(Exception):
    pass


async def _start_libzmq_proxy(
    ctx: trio_zmq.Context, nursery: trio.Nursery
) -> list[trio_zmq.Socket]:
    """A libzmq proxy started in *nursery*, seen forwarding: its two sockets, and two more."""
    frontend, backend = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    client, worker = ctx.socket(zmq.REQ), ctx.socket(zmq.REP)
    client.connect(frontend.bind(inproc_name("front")))
    worker.connect(backend.bind(inproc_name("back")))
    await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine="libzmq"))
    await client.send(b"ping")
    assert await worker.recv() == b"ping"  # forwarded by the proxy's thread
    with pytest.raises(trio.BusyResourceError):
        frontend.close()  # lent to that thread
    return [frontend, backend, client, worker]


async def test_leaving_the_context_stops_a_libzmq_proxy_and_closes_every_socket() -> None:
    # The proxy's nursery outlives the context, whose exit must stop it.
    with pytest.RaisesGroup(_TAKEN_BACK):
        async with trio.open_nursery() as nursery, trio_zmq.Context() as ctx:
            sockets = await _start_libzmq_proxy(ctx, nursery)
    assert all(sock.closed for sock in sockets)
    assert ctx.closed
    assert ctx.underlying.closed


async def test_leaving_the_context_by_an_exception_stops_a_libzmq_proxy_too() -> None:
    with pytest.RaisesGroup(_Boom, _TAKEN_BACK):
        async with trio.open_nursery() as nursery, trio_zmq.Context() as ctx:
            sockets = await _start_libzmq_proxy(ctx, nursery)
            raise _Boom
    assert all(sock.closed for sock in sockets)
    assert ctx.underlying.closed


async def test_a_cancelled_exit_stops_a_libzmq_proxy_and_drops_what_is_queued() -> None:
    with pytest.RaisesGroup(_TAKEN_BACK):
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as scope:
                async with trio_zmq.Context(linger=-1) as ctx:  # would wait forever
                    sockets = await _start_libzmq_proxy(ctx, nursery)
                    stuck = ctx.socket(zmq.PUSH)
                    stuck.connect(inproc_name("nobody"))  # never bound: messages stay queued
                    await stuck.send(b"stuck")
                    scope.cancel()
    assert all(sock.closed for sock in [*sockets, stuck])
    assert ctx.underlying.closed


async def test_aclose_in_a_sibling_task_of_the_proxy_stops_it() -> None:
    ctx = trio_zmq.Context()
    with pytest.RaisesGroup(_TAKEN_BACK):
        async with trio.open_nursery() as nursery:
            sockets = await _start_libzmq_proxy(ctx, nursery)
            nursery.start_soon(ctx.aclose)
    assert all(sock.closed for sock in sockets)
    assert ctx.underlying.closed


async def test_a_cancelled_wait_for_a_lent_socket_still_waits_for_it_then_destroys() -> None:
    recalled, give_back = trio.Event(), trio.Event()
    ctx = trio_zmq.Context()
    lent, other = pair(ctx, zmq.PAIR, zmq.PAIR)

    async def borrow(*, task_status: trio.TaskStatus[None]) -> None:
        with lent.lend("a test", recall=recalled.set):
            task_status.started()
            await give_back.wait()

    async def cancel_then_give_back(scope: trio.CancelScope) -> None:
        await recalled.wait()
        await trio.testing.wait_all_tasks_blocked()  # aclose waits for the socket
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()  # it waits on, shielded
        assert other.closed
        assert not lent.closed
        give_back.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(borrow)
        with trio.CancelScope() as scope:
            nursery.start_soon(cancel_then_give_back, scope)
            await ctx.aclose()
    assert scope.cancelled_caught
    assert lent.closed
    assert ctx.underlying.closed


async def test_a_socket_lent_without_a_recall_keeps_the_context_open() -> None:
    ctx = trio_zmq.Context()
    lent, other = pair(ctx, zmq.PAIR, zmq.PAIR)
    with lent.lend("a test"):
        with pytest.raises(trio.BusyResourceError, match="cannot be asked to give it back"):
            await ctx.aclose()
        with pytest.raises(trio.BusyResourceError, match="1 of this context's sockets are lent"):
            ctx.destroy()
        assert other.closed
        assert not ctx.closed
    await ctx.aclose()  # given back: closing again finishes the job
    assert lent.closed
    assert ctx.underlying.closed


async def test_leaving_the_context_stops_a_libzmq_proxy_blocked_on_a_peer_that_reads_nothing() -> (
    None
):
    proxy_ended: list[BaseException] = []

    async def run_proxy(
        frontend: trio_zmq.Socket,
        backend: trio_zmq.Socket,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            await trio_zmq.proxy(frontend, backend, engine="libzmq", task_status=task_status)
        except trio.ClosedResourceError as exc:
            proxy_ended.append(exc)

    async with trio.open_nursery() as nursery, trio_zmq.Context() as ctx:
        source = ctx.socket(zmq.PUSH)
        frontend = ctx.socket(zmq.PULL, rcvhwm=1)
        backend = ctx.socket(zmq.PUSH, sndhwm=1)
        sink = ctx.socket(zmq.PULL, rcvhwm=1)  # reads nothing
        source.connect(frontend.bind(inproc_name("front")))
        sink.connect(backend.bind(inproc_name("back")))
        await nursery.start(run_proxy, frontend, backend)
        for _ in range(50):
            source.send_nowait(b"x" * 10)
        # The proxy's thread forwards a burst to a pipe with room for two, and
        # blocks in a send, where it reads no command: a recall alone would
        # never reach it.
        assert await sink.poll(flags=zmq.POLLIN)
        sockets = (source, frontend, backend, sink)
    assert len(proxy_ended) == 1
    assert all(sock.closed for sock in sockets)
    assert ctx.underlying.closed
