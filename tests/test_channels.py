"""open_channels: a socket used through Trio memory channels."""

from __future__ import annotations

import sys

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

from trio_zmq.testing import wait_subscribed

from .helpers import inproc_name, pair


async def test_messages_from_ten_producer_tasks_all_arrive_exactly_once(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    per_task = 200

    async def produce(channel: trio.MemorySendChannel[list[bytes]], n: int) -> None:
        async with channel:
            for i in range(per_task):
                await channel.send([b"%d" % n, b"%d" % i])

    received: list[tuple[bytes, ...]] = []
    async with (
        trio_zmq.open_channels(push) as (send_channel, _),
        trio.open_nursery() as nursery,
    ):
        for n in range(10):
            nursery.start_soon(produce, send_channel.clone(), n)
        for _ in range(10 * per_task):
            received.append(tuple(await pull.recv_multipart()))
    expected = {(b"%d" % n, b"%d" % i) for n in range(10) for i in range(per_task)}
    assert len(received) == len(expected)
    assert set(received) == expected


async def test_receive_channel_clones_share_the_messages_without_duplicates(
    ctx: trio_zmq.Context,
) -> None:
    push, pull = pair(ctx, zmq.PUSH, zmq.PULL)
    got: list[bytes] = []

    async def consume(channel: trio.MemoryReceiveChannel[list[bytes]]) -> None:
        async with channel:
            async for (frame,) in channel:
                got.append(frame)

    async with (
        trio_zmq.open_channels(pull) as (_, receive_channel),
        trio.open_nursery() as nursery,
    ):
        for _ in range(5):
            nursery.start_soon(consume, receive_channel.clone())
        for i in range(500):
            await push.send(b"%d" % i)
        while len(got) < 500:
            await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert sorted(got) == sorted(b"%d" % i for i in range(500))


async def test_normal_exit_sends_every_message_the_buffered_channel_accepted(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    async with trio_zmq.open_channels(push, max_buffer_size=100) as (send_channel, _):
        for i in range(100):
            send_channel.send_nowait([b"%d" % i])  # all in the buffer, none sent yet
    for i in range(100):
        assert await pull.recv_multipart(zmq.NOBLOCK) == [b"%d" % i]


async def test_normal_exit_waits_for_the_socket_to_take_accepted_messages(
    ctx: trio_zmq.Context,
) -> None:
    push = ctx.socket(zmq.PUSH)  # no peer yet: nothing can be sent
    endpoint = push.bind("tcp://127.0.0.1:*")
    exited = trio.Event()

    async def use_channels() -> None:
        async with trio_zmq.open_channels(push, max_buffer_size=10) as (send_channel, _):
            await send_channel.send([b"queued"])
        exited.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(use_channels)
        await trio.testing.wait_all_tasks_blocked()
        assert not exited.is_set()
        pull = ctx.socket(zmq.PULL)
        pull.connect(endpoint)
        assert await pull.recv_multipart() == [b"queued"]
    assert exited.is_set()


async def test_cancelled_exit_drops_queued_messages_and_returns(ctx: trio_zmq.Context) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind("tcp://127.0.0.1:*")  # no peer: the message can never go
    with trio.CancelScope() as scope:
        async with trio_zmq.open_channels(push, max_buffer_size=10) as (send_channel, _):
            await send_channel.send([b"never sent"])
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    with pytest.raises(trio.ClosedResourceError):
        await send_channel.send([b"after"])  # the block closed the yielded channel


async def test_a_block_cancelled_from_outside_raises_one_cancelled_not_a_group(
    ctx: trio_zmq.Context,
) -> None:
    # Regression: every pump's Cancelled came out together, as a group.
    dealer, _ = pair(ctx, zmq.DEALER, zmq.DEALER)
    caught: list[BaseException] = []
    with trio.CancelScope() as scope:
        try:
            async with trio_zmq.open_channels(dealer):
                scope.cancel()
                await trio.sleep_forever()
        except BaseException as exc:
            caught.append(exc)
            raise
    assert scope.cancelled_caught
    assert [type(exc) for exc in caught] == [trio.Cancelled]


async def test_a_normal_exit_drops_at_most_what_the_receive_pump_read_ahead(
    ctx: trio_zmq.Context,
) -> None:
    push, pull = pair(ctx, zmq.PUSH, zmq.PULL)
    for i in range(5):
        await push.send(b"%d" % i)
    assert await pull.poll(None, zmq.POLLIN)
    async with trio_zmq.open_channels(pull, max_buffer_size=1) as (_, receive_channel):
        assert await receive_channel.receive() == [b"0"]
        await trio.testing.wait_all_tasks_blocked()
    # The buffer's one and the one the pump held are gone (as documented);
    # the rest is still on the socket.
    assert [await pull.recv() for _ in range(2)] == [b"3", b"4"]


async def test_send_pump_sends_a_buffered_burst(ctx: trio_zmq.Context) -> None:
    push, pull = pair(ctx, zmq.PUSH, zmq.PULL)
    async with trio_zmq.open_channels(push, max_buffer_size=100) as (send_channel, _):
        for i in range(100):
            send_channel.send_nowait([b"%d" % i])
        await trio.testing.wait_all_tasks_blocked()
        assert send_channel.statistics().current_buffer_used == 0
    assert [await pull.recv() for _ in range(100)] == [b"%d" % i for i in range(100)]


async def test_receive_channel_ends_and_send_breaks_when_the_socket_is_closed(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send_multipart([b"one"])
    await a.send_multipart([b"two"])
    got: list[list[bytes]] = []
    async with trio_zmq.open_channels(b) as (send_channel, receive_channel):
        async for msg in receive_channel:
            got.append(msg)
            if len(got) == 2:
                b.close()
        with pytest.raises(trio.BrokenResourceError):
            await send_channel.send([b"too late"])
    assert got == [[b"one"], [b"two"]]


async def test_send_breaks_promptly_when_a_send_only_socket_is_closed(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
    async with trio_zmq.open_channels(push) as (send_channel, _):
        await send_channel.send([b"sent"])
        assert await pull.recv_multipart() == [b"sent"]
        push.close()
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BrokenResourceError):
            send_channel.send_nowait([b"after close"])
        with pytest.raises(trio.BrokenResourceError):
            await send_channel.send([b"after close"])


async def test_a_close_is_noticed_while_both_pumps_sleep_on_their_channels(
    ctx: trio_zmq.Context,
) -> None:
    # The receive pump holds a message for a receiver that has not come, and
    # the send pump waits for a message: neither sleeps on the socket. The
    # block's close watcher is what notices the close.
    a, b = pair(ctx, zmq.DEALER, zmq.DEALER)
    await a.send(b"held")
    with trio.fail_after(5):
        async with trio_zmq.open_channels(b) as (send_channel, receive_channel):
            await trio.testing.wait_all_tasks_blocked()
            b.close()
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BrokenResourceError):
                send_channel.send_nowait([b"after close"])
            assert await receive_channel.receive() == [b"held"]  # taken before the close
            with pytest.raises(trio.EndOfChannel):
                await receive_channel.receive()


async def test_req_sending_twice_raises_efsm_out_of_the_block(ctx: trio_zmq.Context) -> None:
    _rep, req = pair(ctx, zmq.REP, zmq.REQ)
    with pytest.raises(zmq.ZMQError) as info:
        async with trio_zmq.open_channels(req) as (send_channel, _):
            await send_channel.send([b"first"])
            await send_channel.send([b"second"])  # REQ must receive a reply first
            await trio.sleep_forever()
    assert info.value.errno == zmq.EFSM
    assert "REQ" in str(info.value)


async def test_an_exception_from_the_block_comes_out_unwrapped(ctx: trio_zmq.Context) -> None:
    _a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    with pytest.raises(KeyError):
        async with trio_zmq.open_channels(b):
            raise KeyError("from the body")


async def test_an_exception_group_raised_in_the_block_comes_out_as_raised(
    ctx: trio_zmq.Context,
) -> None:
    _a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    mine = ExceptionGroup("mine", [KeyError(1)])
    with pytest.raises(ExceptionGroup) as info:
        async with trio_zmq.open_channels(b):
            raise mine
    # As raised (Trio may hand on a copy): not flattened, not wrapped again.
    assert info.value.message == "mine"
    assert [type(exc) for exc in info.value.exceptions] == [KeyError]


async def test_req_and_rep_talk_in_lockstep_through_channels(ctx: trio_zmq.Context) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ)

    async def serve() -> None:
        async with trio_zmq.open_channels(rep) as (replies, requests):
            for _ in range(3):
                (request,) = await requests.receive()
                await replies.send([request.upper()])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        async with trio_zmq.open_channels(req) as (requests, replies):
            for word in (b"a", b"b", b"c"):
                await requests.send([word])
                assert await replies.receive() == [word.upper()]


async def test_receive_pump_moves_a_ready_burst_into_the_buffer_at_once(
    ctx: trio_zmq.Context,
) -> None:
    push, pull = pair(ctx, zmq.PUSH, zmq.PULL)
    for i in range(50):
        await push.send(b"%d" % i)
    assert await pull.poll(None, zmq.POLLIN)  # inproc: all 50 are there now
    async with trio_zmq.open_channels(pull, max_buffer_size=100) as (_, receive_channel):
        await trio.testing.wait_all_tasks_blocked()
        assert receive_channel.statistics().current_buffer_used == 50
        assert [receive_channel.receive_nowait() for _ in range(50)] == [
            [b"%d" % i] for i in range(50)
        ]


async def test_send_only_and_receive_only_sockets_have_one_pump(ctx: trio_zmq.Context) -> None:
    pub = ctx.socket(zmq.PUB)
    sub = ctx.socket(zmq.SUB, subscribe=b"")
    sub.connect(pub.bind(inproc_name()))
    # Probe before any pump reads *sub*: a pump that took a probe would hand
    # it to the channel ahead of the news (CI saw it under load).
    await wait_subscribed(pub, sub)
    async with (
        trio_zmq.open_channels(pub) as (pub_send, pub_receive),
        trio_zmq.open_channels(sub) as (sub_send, sub_receive),
    ):
        with pytest.raises(trio.EndOfChannel):
            await pub_receive.receive()  # a PUB cannot receive
        with pytest.raises(trio.BrokenResourceError):
            await sub_send.send([b"x"])  # a SUB cannot send
        await pub_send.send([b"news"])
        assert await sub_receive.receive() == [b"news"]


async def test_xpub_receives_subscriptions_through_its_channel(ctx: trio_zmq.Context) -> None:
    xpub, sub = pair(ctx, zmq.XPUB, zmq.SUB)
    async with trio_zmq.open_channels(xpub) as (_, receive_channel):
        sub.subscribe(b"topic")
        assert await receive_channel.receive() == [b"\x01topic"]


async def test_dealer_and_router_exchange_through_channels_both_ways(
    ctx: trio_zmq.Context,
) -> None:
    router, dealer = pair(ctx, zmq.ROUTER, zmq.DEALER, "tcp")
    async with (
        trio_zmq.open_channels(router) as (router_send, router_receive),
        trio_zmq.open_channels(dealer) as (dealer_send, dealer_receive),
    ):
        for i in range(20):
            await dealer_send.send([b"req", b"%d" % i])
        for i in range(20):
            peer, *frames = await router_receive.receive()
            assert frames == [b"req", b"%d" % i]
            await router_send.send([peer, b"rep", b"%d" % i])
        for i in range(20):
            assert await dealer_receive.receive() == [b"rep", b"%d" % i]


async def test_closing_every_receive_channel_stops_only_the_receive_pump(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    async with trio_zmq.open_channels(b) as (send_channel, receive_channel):
        await receive_channel.aclose()
        await a.send(b"unread")
        await send_channel.send([b"still sending"])
        assert await a.recv() == b"still sending"


async def test_a_bad_message_raises_out_of_the_block(ctx: trio_zmq.Context) -> None:
    _a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    with pytest.raises(TypeError, match="send_string"):
        async with trio_zmq.open_channels(b) as (send_channel, _):
            await send_channel.send(["text"])  # type: ignore[list-item]
            await trio.sleep_forever()


async def test_open_channels_takes_only_an_open_trio_zmq_socket(ctx: trio_zmq.Context) -> None:
    raw = ctx.underlying.socket(zmq.PAIR)
    try:
        with pytest.raises(TypeError, match="from_socket"):
            async with trio_zmq.open_channels(raw):
                pass
    finally:
        raw.close(linger=0)
    sock = ctx.socket(zmq.PAIR)
    sock.close()
    with pytest.raises(trio.ClosedResourceError):
        async with trio_zmq.open_channels(sock):
            pass
