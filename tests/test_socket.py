"""The Socket API: the synchronous part, the async family, options, closing."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq.testing import PairMaker, wait_subscribed

from .helpers import inproc_name, pair


async def test_bind_returns_the_resolved_endpoint(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)
    endpoint = sock.bind("tcp://127.0.0.1:*")
    assert endpoint.startswith("tcp://127.0.0.1:")
    assert int(endpoint.rsplit(":", 1)[1]) > 0
    assert sock.bind("inproc://bound-name") == "inproc://bound-name"


async def test_request_reply_round_trip(ctx: trio_zmq.Context) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ, "tcp")

    async def serve() -> None:
        msg = await rep.recv()
        await rep.send(msg.upper())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        await req.send(b"hello")
        assert await req.recv() == b"hello".upper()


async def test_multipart_round_trip_keeps_frames(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send_multipart([b"one", b"", b"three"])
    assert await b.recv_multipart() == [b"one", b"", b"three"]
    await b.send_multipart([bytearray(b"x"), memoryview(b"yz")])
    assert await a.recv_multipart() == [b"x", b"yz"]


async def test_copy_false_returns_frames_and_track_returns_a_tracker(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    tracker = await a.send(b"x" * 100_000, copy=False, track=True)
    assert isinstance(tracker, zmq.MessageTracker)
    frame = await b.recv(copy=False)
    assert isinstance(frame, zmq.Frame)
    assert frame.bytes == b"x" * 100_000
    await a.send_multipart([b"a", b"b"], copy=False)
    frames = await b.recv_multipart(copy=False)
    assert [f.bytes for f in frames] == [b"a", b"b"]
    await a.send(zmq.Frame(b"framed"))
    assert await b.recv() == b"framed"


async def test_string_json_pyobj_and_serialized(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send_string("héllo")
    assert await b.recv_string() == "héllo"
    await a.send_string("latin", encoding="latin-1")
    assert await b.recv_string(encoding="latin-1") == "latin"
    await a.send_json({"n": [1, 2]})
    assert await b.recv_json() == {"n": [1, 2]}
    await a.send_pyobj({1, 2})
    assert await b.recv_pyobj() == {1, 2}
    await a.send_serialized({"k": 1}, lambda m: [b"hdr", json.dumps(m).encode()])
    assert await b.recv_serialized(lambda frames: (frames[0], json.loads(frames[1]))) == (
        b"hdr",
        {"k": 1},
    )


async def test_failing_deserializer_consumes_the_message_and_socket_stays_usable(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send(b"not json")
    await a.send_json("fine")
    with pytest.raises(ValueError):
        await b.recv_json()
    assert await b.recv_json() == "fine"

    def boom(frames: list[bytes]) -> None:
        raise KeyError("bad")

    await a.send_multipart([b"1", b"2"])
    await a.send(b"after")
    with pytest.raises(KeyError):
        await b.recv_serialized(boom)
    assert await b.recv() == b"after"


async def test_noblock_raises_again_at_once(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=1, rcvhwm=1)
    with pytest.raises(zmq.Again):
        await b.recv(zmq.NOBLOCK)
    with pytest.raises(zmq.Again):
        await b.recv_multipart(zmq.DONTWAIT)
    sent = 0
    with pytest.raises(zmq.Again):
        while True:
            await a.send(b"x", zmq.NOBLOCK)
            sent += 1
    assert sent >= 1
    assert await b.recv() == b"x"


async def test_rcvtimeo_and_sndtimeo_raise_again(
    ctx: trio_zmq.Context, autojump_clock: trio.testing.MockClock
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=1, rcvhwm=1)
    b.rcvtimeo = 250
    start = trio.current_time()
    with pytest.raises(zmq.Again, match="RCVTIMEO"):
        await b.recv()
    assert trio.current_time() - start == pytest.approx(0.25)
    a.setsockopt(zmq.SNDTIMEO, 100)
    with pytest.raises(zmq.Again, match="SNDTIMEO"):
        while True:
            await a.send(b"fill")
    b.rcvtimeo = -1
    assert await b.recv() == b"fill"


async def test_timeout_zero_behaves_as_noblock(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL, rcvtimeo=0)
    with pytest.raises(zmq.Again):
        await sock.recv()


async def test_options_as_attributes_keywords_and_calls(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER, linger=5, rcvhwm=7, routing_id=b"me")
    assert sock.linger == 5
    assert sock.rcvhwm == 7
    assert sock.routing_id == b"me"
    sock.sndhwm = 3
    assert sock.get(zmq.SNDHWM) == 3
    sock.set(zmq.RCVHWM, 11)
    assert sock.getsockopt(zmq.RCVHWM) == 11
    sock.setsockopt_string(zmq.ROUTING_ID, "you")
    assert sock.getsockopt_string(zmq.ROUTING_ID) == "you"
    sock.hwm = 9
    assert sock.sndhwm == 9
    assert sock.socket_type == zmq.DEALER
    assert isinstance(sock.underlying, zmq.Socket)
    with pytest.raises(AttributeError, match="no socket option 'lingr'"):
        sock.lingr = 3
    with pytest.raises(AttributeError):
        _ = sock.not_an_option


async def test_subscribe_filters_topics(zmq_pair: PairMaker) -> None:
    pub, sub = await zmq_pair(zmq.PUB, zmq.SUB, subscribe=b"news")
    sub.subscribe("weather")
    await wait_subscribed(pub, sub, b"weather")
    await pub.send(b"sports 1")
    await pub.send(b"weather 2")
    await pub.send(b"news 3")
    assert await sub.recv() == b"weather 2"
    assert await sub.recv() == b"news 3"
    sub.unsubscribe("weather")


async def test_connect_disconnect_unbind(ctx: trio_zmq.Context) -> None:
    a = ctx.socket(zmq.PAIR)
    b = ctx.socket(zmq.PAIR)
    endpoint = a.bind("tcp://127.0.0.1:*")
    b.connect(endpoint)
    await b.send(b"1")
    assert await a.recv() == b"1"
    b.disconnect(endpoint)
    a.unbind(endpoint)


async def test_async_iteration_yields_messages_and_ends_on_close(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    got: list[list[bytes]] = []

    async def consume() -> None:
        async for msg in b:
            got.append(msg)
            if len(got) == 2:
                b.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await a.send_multipart([b"a", b"1"])
        await a.send(b"b")
    assert got == [[b"a", b"1"], [b"b"]]


async def test_poll_reports_ready_events_and_times_out(
    ctx: trio_zmq.Context, autojump_clock: trio.testing.MockClock
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    assert await b.poll(0) == 0
    assert await b.poll(100) == 0
    assert await a.poll(0, zmq.POLLOUT) == zmq.POLLOUT
    await a.send(b"x")
    assert await b.poll() == zmq.POLLIN
    assert await b.poll(timeout=-1, flags=zmq.POLLIN | zmq.POLLOUT) == zmq.POLLIN | zmq.POLLOUT
    assert await b.recv() == b"x"


async def test_poll_wakes_when_a_message_arrives(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    async with trio.open_nursery() as nursery:
        result: list[int] = []

        async def poller() -> None:
            result.append(await b.poll())

        nursery.start_soon(poller)
        await trio.testing.wait_all_tasks_blocked()
        await a.send(b"x")
    assert result == [zmq.POLLIN]


async def test_close_wakes_every_waiter_with_closed_resource_error(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=1, rcvhwm=1)
    while True:  # fill a's queue so senders block
        try:
            await a.send(b"x", zmq.NOBLOCK)
        except zmq.Again:
            break
    outcomes: list[str] = []

    async def blocked(call: object) -> None:
        try:
            await call()  # type: ignore[operator]
        except trio.ClosedResourceError:
            outcomes.append("closed")

    async with trio.open_nursery() as nursery:
        sock = ctx.socket(zmq.PULL)
        sock.bind(inproc_name())
        for _ in range(3):
            nursery.start_soon(blocked, sock.recv)
            nursery.start_soon(blocked, sock.recv_multipart)
            nursery.start_soon(blocked, lambda: a.send(b"y"))
            nursery.start_soon(blocked, sock.poll)
        await trio.testing.wait_all_tasks_blocked()
        sock.close()
        a.close()
    assert outcomes == ["closed"] * 12
    for call in (sock.recv, a.recv, a.recv_multipart, lambda: a.send(b"x"), a.poll):
        with pytest.raises(trio.ClosedResourceError):
            await call()
    a.close()  # twice is fine
    await a.aclose()
    assert a.closed


async def test_close_from_another_thread_while_tasks_wait_is_refused_and_harmless(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.PULL)
    sock.bind(inproc_name())
    outcomes: list[str] = []

    async def receive() -> None:
        try:
            await sock.recv()
        except trio.ClosedResourceError:
            outcomes.append("closed")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError, match="from_thread"):
            await trio.to_thread.run_sync(sock.close)
        assert not sock.closed  # nothing half done
        await trio.to_thread.run_sync(lambda: trio.from_thread.run_sync(sock.close))
    assert outcomes == ["closed"]
    assert sock.closed


async def test_a_task_ending_inside_a_sndmore_message_breaks_other_senders_clearly(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)

    async def begin_and_die() -> None:
        await a.send(b"head", zmq.SNDMORE)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(begin_and_die)
    with pytest.raises(trio.BrokenResourceError, match="halfway through a multipart"):
        await a.send(b"other")
    with pytest.raises(trio.BrokenResourceError, match="halfway"):
        a.send_nowait(b"other")
    with pytest.raises(trio.BrokenResourceError, match="halfway"):
        await a.send_multipart([b"other"])


async def test_a_sender_parked_behind_an_owner_that_ends_is_told_within_seconds(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    owner_parked = trio.Event()
    errors: list[BaseException] = []

    async def begin_and_die() -> None:
        await a.send(b"head", zmq.SNDMORE)
        await owner_parked.wait()

    async def other() -> None:
        try:
            await a.send(b"other")
        except trio.BrokenResourceError as exc:
            errors.append(exc)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(begin_and_die)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(other)
            await trio.testing.wait_all_tasks_blocked()  # parked behind the owner
            owner_parked.set()  # the owner ends without its last frame
    assert len(errors) == 1


async def test_async_with_closes_the_socket(ctx: trio_zmq.Context) -> None:
    async with ctx.socket(zmq.PAIR) as sock:
        opened = not sock.closed
    assert opened
    assert sock.closed
    with pytest.raises(trio.ClosedResourceError):
        sock.bind(inproc_name())
    with pytest.raises(trio.ClosedResourceError):
        _ = sock.linger


async def test_from_socket_wraps_a_pyzmq_socket() -> None:
    zctx = zmq.Context()
    try:
        raw = zctx.socket(zmq.PAIR)
        sock = trio_zmq.Socket.from_socket(raw)
        assert sock.underlying is raw
        peer = trio_zmq.Socket.from_socket(zctx.socket(zmq.PAIR))
        endpoint = sock.bind(inproc_name())
        peer.connect(endpoint)
        await peer.send(b"wrapped")
        assert await sock.recv() == b"wrapped"
        sock.close(linger=0)
        peer.close(linger=0)
        assert raw.closed
    finally:
        zctx.term()


async def test_direct_construction_and_bad_wraps_are_refused() -> None:
    with pytest.raises(TypeError, match="ctx.socket"):
        trio_zmq.Socket()
    with pytest.raises(TypeError, match="zmq.Socket"):
        trio_zmq.Socket.from_socket(object())  # type: ignore[arg-type]
    import zmq.asyncio

    actx = zmq.asyncio.Context()
    asock = actx.socket(zmq.PAIR)
    with pytest.raises(TypeError, match="asyncio"):
        trio_zmq.Socket.from_socket(asock)
    asock.close()
    actx.term()


def test_socket_made_outside_a_run_is_adopted_by_the_first_run() -> None:
    ctx = trio_zmq.Context(linger=0)
    a = ctx.socket(zmq.PAIR)
    b = ctx.socket(zmq.PAIR)
    b.connect(a.bind(inproc_name()))

    async def use() -> bytes:
        await b.send(b"hi")
        return await a.recv()

    assert trio.run(use) == b"hi"
    with pytest.raises(RuntimeError, match="another trio.run"):
        trio.run(use)
    ctx.destroy()


async def test_a_closed_socket_with_a_half_sent_message_says_closed(
    ctx: trio_zmq.Context,
) -> None:
    # Regression (found by the property tests): the unfinished-message error
    # came first, where the socket was simply closed.
    a, _ = pair(ctx, zmq.PAIR, zmq.PAIR)

    async def begin() -> None:
        await a.send(b"head", zmq.SNDMORE)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(begin)
    a.close()
    with pytest.raises(trio.ClosedResourceError):
        await a.send(b"late")
    with pytest.raises(trio.ClosedResourceError):
        a.send_nowait(b"late")


async def test_wait_closed_returns_when_another_task_closes_the_socket(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.DEALER)
    closed_seen = trio.Event()

    async def watch() -> None:
        await sock.wait_closed()
        closed_seen.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await trio.testing.wait_all_tasks_blocked()
        assert not closed_seen.is_set()
        sock.close()
    assert closed_seen.is_set()
    with trio.testing.assert_checkpoints():
        await sock.wait_closed()  # already closed: at once


async def test_a_cancelled_wait_closed_leaves_the_socket_as_it_was(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    with trio.move_on_after(0.01):
        await b.wait_closed()
    assert not b.closed
    await a.send(b"still works")
    assert await b.recv() == b"still works"


async def test_statistics_count_the_tasks_waiting_each_way_and_the_turn(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=1, rcvhwm=1)
    assert a.statistics() == trio_zmq.SocketStatistics(0, 0, None, None, False)
    while True:  # fill the pipe, so that sends wait
        try:
            a.send_nowait(b"fill")
        except trio.WouldBlock:
            break
    async with trio.open_nursery() as nursery:
        for _ in range(2):
            nursery.start_soon(a.send, b"x")
        for _ in range(3):
            nursery.start_soon(a.recv)
        await trio.testing.wait_all_tasks_blocked()
        stats = a.statistics()
        assert (stats.tasks_waiting_send, stats.tasks_waiting_receive) == (2, 3)
        nursery.cancel_scope.cancel()
    assert a.statistics().tasks_waiting_send == a.statistics().tasks_waiting_receive == 0
    await b.send(b"more", zmq.SNDMORE)
    assert b.statistics().send_turn_owner is trio.lowlevel.current_task()
    await b.send(b"last")
    assert b.statistics().send_turn_owner is None
    with a.lend("a test"):
        assert a.statistics().lent_to == "a test"
    a.close()
    assert a.statistics().closed


async def test_wrapping_a_pyzmq_socket_twice_gives_the_same_wrapper(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.PAIR)
    assert trio_zmq.Socket.from_socket(sock.underlying) is sock
    raw = ctx.underlying.socket(zmq.PAIR)
    wrapper = trio_zmq.Socket.from_socket(raw)
    assert trio_zmq.Socket.from_socket(raw) is wrapper
    wrapper.close()
    with pytest.raises(trio.ClosedResourceError):
        trio_zmq.Socket.from_socket(raw)


async def test_a_task_may_wait_on_fileno_while_others_wait_in_calls(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    received: list[bytes] = []

    async def receiver() -> None:
        received.append(await a.recv())

    fd = a.fileno()
    assert fd == a.fileno()  # one duplicate, kept until the close
    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        await b.send(b"news")
        await trio.lowlevel.wait_readable(fd)  # no BusyResourceError
    assert received == [b"news"]
    a.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the socket


async def test_a_wait_on_the_raw_fd_itself_is_refused_with_what_to_do(
    ctx: trio_zmq.Context,
) -> None:
    a, _ = pair(ctx, zmq.PAIR, zmq.PAIR)
    assert not a.events & zmq.POLLIN  # which takes the commands the connection queued
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.lowlevel.wait_readable, a.underlying.FD)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError, match="sock.poll"):
            await a.recv()
        nursery.cancel_scope.cancel()


async def test_the_fileno_duplicate_is_closed_with_a_wrapper_dropped_unclosed() -> None:
    raw_ctx = zmq.Context()
    try:
        raw = raw_ctx.socket(zmq.PAIR)
        wrapper = trio_zmq.Socket.from_socket(raw)
        fd = wrapper.fileno()
        os.fstat(fd)
        del wrapper
        gc.collect()
        with pytest.raises(OSError):
            os.fstat(fd)
        raw.close(linger=0)
    finally:
        raw_ctx.term()


async def test_a_generator_of_frames_that_fails_raises_its_own_error(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)

    def frames() -> Iterator[bytes]:
        yield b"one"
        raise TypeError("the user's own mistake")

    with pytest.raises(TypeError, match="the user's own mistake"):
        await a.send_multipart(frames())
    await a.send_multipart([b"still", b"works"])
    assert await b.recv_multipart() == [b"still", b"works"]
