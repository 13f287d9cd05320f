"""Poller: several sockets and file descriptors at once."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq import _poll

from .helpers import inproc_name, pair


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        for fd in (r, w):
            with contextlib.suppress(OSError):  # a test may have closed it
                os.close(fd)


@pytest.fixture
def raw_pair(ctx: trio_zmq.Context) -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """A plain pyzmq PULL (bound) and PUSH (connected), not wrapped."""
    pull = ctx.underlying.socket(zmq.PULL)
    push = ctx.underlying.socket(zmq.PUSH)
    endpoint = inproc_name("raw")
    pull.bind(endpoint)
    push.connect(endpoint)
    try:
        yield pull, push
    finally:
        pull.close(linger=0)
        push.close(linger=0)


async def test_poller_over_a_trio_socket_a_pyzmq_socket_and_a_pipe(
    ctx: trio_zmq.Context,
    raw_pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
    pipe: tuple[int, int],
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    raw_pull, raw_push = raw_pair
    r, w = pipe
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(raw_pull, zmq.POLLIN)
    poller.register(r, zmq.POLLIN)
    assert await poller.poll(0) == []

    async def wait_then_check(expected: list[tuple[Any, int]]) -> None:
        assert await poller.poll() == expected

    # Each source wakes a poll that is already waiting.
    sources: list[tuple[Any, Callable[[], object]]] = [
        (pull, lambda: push.send_nowait(b"trio")),
        (raw_pull, lambda: raw_push.send(b"raw")),
        (r, lambda: os.write(w, b"x")),
    ]
    for source, make_ready in sources:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_then_check, [(source, int(zmq.POLLIN))])
            await trio.testing.wait_all_tasks_blocked()
            make_ready()
        # consume, so the next round starts from nothing ready
        if source is pull:
            assert await pull.recv() == b"trio"
        elif source is raw_pull:
            assert raw_pull.recv(zmq.NOBLOCK) == b"raw"
        else:
            assert os.read(r, 1) == b"x"

    # And all three at once are reported together, in registration order.
    await push.send(b"trio")
    raw_push.send(b"raw")
    os.write(w, b"x")
    assert await poller.poll() == [(pull, zmq.POLLIN), (raw_pull, zmq.POLLIN), (r, zmq.POLLIN)]


async def test_poll_times_out_with_an_empty_list(
    ctx: trio_zmq.Context, autojump_clock: trio.testing.MockClock, pipe: tuple[int, int]
) -> None:
    pull, _push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(pipe[0], zmq.POLLIN)
    start = trio.current_time()
    assert await poller.poll(timeout=1500) == []
    assert trio.current_time() - start == pytest.approx(1.5)


async def test_poll_zero_only_looks(ctx: trio_zmq.Context) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    assert await poller.poll(0) == []
    await push.send(b"x")
    assert await poller.poll(0) == [(pull, zmq.POLLIN)]


async def test_poll_is_a_cancel_point_even_when_something_is_ready(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    await push.send(b"x")
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    with trio.CancelScope() as scope:
        scope.cancel()
        await poller.poll()
    assert scope.cancelled_caught


async def test_cancelled_poll_leaves_nothing_registered(
    ctx: trio_zmq.Context,
    raw_pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
    pipe: tuple[int, int],
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    raw_pull, raw_push = raw_pair
    r, w = pipe
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(raw_pull, zmq.POLLIN)
    poller.register(r, zmq.POLLIN)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(poller.poll)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert _poll._raw_waits == {}

    # The same socket and pipe serve other waiters afterwards.
    async with trio.open_nursery() as nursery:

        async def receive() -> None:
            assert await pull.recv() == b"after"

        async def read_pipe() -> None:
            await trio.lowlevel.wait_readable(r)  # no BusyResourceError
            assert os.read(r, 1) == b"y"

        nursery.start_soon(receive)
        nursery.start_soon(read_pipe)
        await trio.testing.wait_all_tasks_blocked()
        await push.send(b"after")
        os.write(w, b"y")
    raw_push.send(b"raw")
    assert await poller.poll() == [(raw_pull, zmq.POLLIN)]


async def test_closing_a_registered_socket_while_poll_waits_raises_closed_resource_error(
    ctx: trio_zmq.Context, pipe: tuple[int, int]
) -> None:
    pull, _push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(pipe[0], zmq.POLLIN)  # two waiters: a private nursery
    async with trio.open_nursery() as nursery:

        async def close_soon() -> None:
            await trio.testing.wait_all_tasks_blocked()
            pull.close()

        nursery.start_soon(close_soon)
        with pytest.raises(trio.ClosedResourceError, match="registered with this Poller"):
            await poller.poll()
    with pytest.raises(trio.ClosedResourceError):
        await poller.poll(0)  # and it says so at once afterwards


@pytest.mark.parametrize("with_pipe", [False, True], ids=["alone", "beside_a_pipe"])
async def test_closing_a_socket_registered_for_pollerr_only_ends_the_poll(
    ctx: trio_zmq.Context, pipe: tuple[int, int], with_pipe: bool
) -> None:
    # POLLERR is accepted for sockets and never reported: nothing to wait
    # for on such a socket, yet its close must still end the poll.
    pull, _push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLERR)
    if with_pipe:
        poller.register(pipe[0], zmq.POLLIN)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def poll() -> None:
                with pytest.raises(trio.ClosedResourceError, match="registered with this Poller"):
                    await poller.poll()

            nursery.start_soon(poll)
            await trio.testing.wait_all_tasks_blocked()
            pull.close()


async def test_closing_one_socket_while_poll_sleeps_on_another_raises_closed(
    ctx: trio_zmq.Context,
) -> None:
    waited_on, _push = pair(ctx, zmq.PULL, zmq.PUSH)
    closed, _other = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(waited_on, zmq.POLLIN)
    poller.register(closed, zmq.POLLERR)  # registered, but nothing to wait for on it
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def poll() -> None:
                with pytest.raises(trio.ClosedResourceError, match="registered with this Poller"):
                    await poller.poll()

            nursery.start_soon(poll)
            await trio.testing.wait_all_tasks_blocked()
            closed.close()
    assert not waited_on.closed


async def test_a_closed_plain_pyzmq_socket_raises_closed_resource_error(
    raw_pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    raw_pull, _ = raw_pair
    poller = trio_zmq.Poller()
    poller.register(raw_pull, zmq.POLLIN)
    raw_pull.close(linger=0)
    with pytest.raises(trio.ClosedResourceError):
        await poller.poll()


async def test_pollout_is_reported_for_sockets_and_descriptors(
    ctx: trio_zmq.Context, pipe: tuple[int, int]
) -> None:
    _pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(push, zmq.POLLIN | zmq.POLLOUT)
    poller.register(pipe[1], zmq.POLLOUT)
    assert await poller.poll() == [(push, zmq.POLLOUT), (pipe[1], zmq.POLLOUT)]


async def test_pollpri_reports_urgent_data_on_a_tcp_socket() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        conn, _ = server.accept()
        with conn:
            poller = trio_zmq.Poller()
            poller.register(conn, zmq.POLLPRI)
            assert await poller.poll(0) == []
            async with trio.open_nursery() as nursery:

                async def send_urgent() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    client.send(b"!", socket.MSG_OOB)

                nursery.start_soon(send_urgent)
                assert await poller.poll() == [(conn, zmq.POLLPRI)]


async def test_a_hung_up_pipe_is_reported_as_pollerr(pipe: tuple[int, int]) -> None:
    r, w = pipe
    poller = trio_zmq.Poller()
    poller.register(r, zmq.POLLIN)
    os.close(w)
    assert await poller.poll() == [(r, zmq.POLLERR)]


async def test_an_object_with_fileno_is_returned_as_registered(pipe: tuple[int, int]) -> None:
    r, w = pipe

    class Source:
        def fileno(self) -> int:
            return r

    source = Source()
    poller = trio_zmq.Poller()
    poller.register(source, zmq.POLLIN)
    poller.register(r, zmq.POLLIN)  # the same descriptor twice is fine
    os.write(w, b"x")
    assert await poller.poll() == [(source, zmq.POLLIN), (r, zmq.POLLIN)]


async def test_a_regular_file_is_always_ready(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "data")
    with open(path, "wb") as f:
        poller = trio_zmq.Poller()
        poller.register(f, zmq.POLLIN | zmq.POLLOUT)
        assert await poller.poll() == [(f, zmq.POLLIN | zmq.POLLOUT)]


async def test_two_tasks_may_poll_one_plain_pyzmq_socket_at_once(
    raw_pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    raw_pull, raw_push = raw_pair
    first, second = trio_zmq.Poller(), trio_zmq.Poller()
    first.register(raw_pull, zmq.POLLIN)
    second.register(raw_pull, zmq.POLLIN)
    results: list[list[tuple[object, int]]] = []

    async def poll(poller: trio_zmq.Poller) -> None:
        results.append(await poller.poll())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(poll, first)
        nursery.start_soon(poll, second)
        await trio.testing.wait_all_tasks_blocked()
        raw_push.send(b"x")
    assert results == [[(raw_pull, zmq.POLLIN)]] * 2
    assert _poll._raw_waits == {}


async def test_a_poll_that_only_looks_does_not_strand_another_poll_of_a_plain_socket(
    raw_pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    # Regression: poll(0) read EVENTS straight from the socket, which can
    # swallow the FD edge the sleeping poll waits on (pyzmq#951).
    raw_pull, raw_push = raw_pair
    sleeping, looking = trio_zmq.Poller(), trio_zmq.Poller()
    sleeping.register(raw_pull, zmq.POLLIN)
    looking.register(raw_pull, zmq.POLLIN)
    woken: list[list[tuple[object, int]]] = []

    async def sleep_in_poll() -> None:
        woken.append(await sleeping.poll())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleep_in_poll)
            await trio.testing.wait_all_tasks_blocked()
            raw_push.send(b"x")
            assert await looking.poll(0) == [(raw_pull, zmq.POLLIN)]
    assert woken == [[(raw_pull, zmq.POLLIN)]]


async def test_a_poll_cancelled_from_outside_raises_one_cancelled_not_a_group(
    ctx: trio_zmq.Context, raw_pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
) -> None:
    a, _ = pair(ctx, zmq.PULL, zmq.PUSH)
    raw_pull, _ = raw_pair
    poller = trio_zmq.Poller()
    poller.register(a, zmq.POLLIN)
    poller.register(raw_pull, zmq.POLLIN)  # two waiters: an internal nursery
    caught: list[BaseException] = []
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:

            async def poll() -> None:
                try:
                    await poller.poll()
                except BaseException as exc:
                    caught.append(exc)
                    raise

            nursery.start_soon(poll)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
    assert scope.cancelled_caught
    assert len(caught) == 1
    assert type(caught[0]) is trio.Cancelled


async def test_a_pyzmq_socket_and_its_wrapper_registered_together_share_one_wait(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(pull.underlying, zmq.POLLIN)
    async with trio.open_nursery() as nursery:

        async def send_soon() -> None:
            await trio.testing.wait_all_tasks_blocked()
            await push.send(b"x")

        nursery.start_soon(send_soon)
        assert await poller.poll() == [(pull, zmq.POLLIN), (pull.underlying, zmq.POLLIN)]


async def test_a_poll_of_a_pyzmq_socket_shares_the_wait_of_its_wrappers_tasks(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    poller = trio_zmq.Poller()
    poller.register(pull.underlying, zmq.POLLIN)  # the wrapper itself is not registered
    received: list[bytes] = []

    async def receiver() -> None:
        received.append(await pull.recv())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)  # asleep on the FD, through the wrapper
        await trio.testing.wait_all_tasks_blocked()

        async def send_soon() -> None:
            await trio.testing.wait_all_tasks_blocked()
            await push.send(b"x")  # for the receiver, or for the poll to see
            await push.send(b"y")  # for the poll to see, or the receiver

        nursery.start_soon(send_soon)
        assert await poller.poll() == [(pull.underlying, zmq.POLLIN)]
    assert received == [b"x"]


async def test_without_epoll_descriptors_are_waited_on_with_trio(
    monkeypatch: pytest.MonkeyPatch, ctx: trio_zmq.Context, pipe: tuple[int, int]
) -> None:
    monkeypatch.setattr(_poll, "_USE_EPOLL", False)
    pull, _push = pair(ctx, zmq.PULL, zmq.PUSH)
    r, w = pipe
    poller = trio_zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(r, zmq.POLLIN)
    poller.register(w, zmq.POLLOUT)
    assert await poller.poll() == [(w, zmq.POLLOUT)]
    poller.unregister(w)
    async with trio.open_nursery() as nursery:

        async def write_soon() -> None:
            await trio.testing.wait_all_tasks_blocked()
            os.write(w, b"x")

        nursery.start_soon(write_soon)
        assert await poller.poll() == [(r, zmq.POLLIN)]
    with pytest.raises(ValueError, match="POLLPRI"):
        poller.register(r, zmq.POLLPRI)


async def test_poll_with_nothing_registered_waits_for_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert await trio_zmq.Poller().poll(250) == []


async def test_register_modify_and_unregister(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    poller = trio_zmq.Poller()
    poller.register(sock)
    assert poller.sockets == [(sock, zmq.POLLIN | zmq.POLLOUT)]
    poller.modify(sock, zmq.POLLIN)
    assert poller.sockets == [(sock, zmq.POLLIN)]
    assert sock in poller
    assert len(poller) == 1
    poller.register(sock, 0)  # flags 0 unregisters, as in pyzmq
    assert sock not in poller
    poller.register(sock, 0)  # and is harmless when not registered
    with pytest.raises(KeyError, match="not registered"):
        poller.unregister(sock)


async def test_register_rejects_what_it_cannot_poll(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    poller = trio_zmq.Poller()
    with pytest.raises(ValueError, match="raw file descriptors only"):
        poller.register(sock, zmq.POLLPRI)
    with pytest.raises(ValueError, match="unknown poll flags"):
        poller.register(sock, 64)
    with pytest.raises(TypeError, match="fileno"):
        poller.register("not a socket")
    with pytest.raises(ValueError, match="negative"):
        poller.register(-1)
    assert len(poller) == 0
