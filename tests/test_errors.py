"""Bad input gets a clear error that says what to do, and the socket still works."""

from __future__ import annotations

import pytest
import trio
import zmq

import trio_zmq

from .helpers import inproc_name, pair


async def assert_still_works(a: trio_zmq.Socket, b: trio_zmq.Socket) -> None:
    await a.send(b"still")
    assert await b.recv() == b"still"


async def test_send_text_names_send_string_and_socket_stays_usable(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    with pytest.raises(TypeError, match="send_string"):
        await a.send("text")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="int"):
        await a.send(123)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="send_string"):
        a.send_nowait("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="send\\(\\) for bytes"):
        await a.send_string(b"bytes")  # type: ignore[arg-type]
    await assert_still_works(a, b)


async def test_bad_multipart_input_sends_nothing(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    with pytest.raises(TypeError, match="send_string"):
        await a.send_multipart([b"ok", "text"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of frames"):
        await a.send_multipart(b"frames")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one frame"):
        await a.send_multipart([])
    with pytest.raises(zmq.Again):
        await b.recv(zmq.NOBLOCK)  # not even the first frame went out
    await assert_still_works(a, b)


@pytest.mark.parametrize(
    ("call", "endpoint"),
    [
        ("bind", "tcp://not a host:1"),
        ("bind", "nonsense"),
        ("bind", "carrier-pigeon://coop"),
        ("connect", "tcp://127.0.0.1"),
        ("connect", "nonsense"),
    ],
)
async def test_invalid_endpoint_error_names_the_endpoint(
    ctx: trio_zmq.Context, call: str, endpoint: str
) -> None:
    sock = ctx.socket(zmq.PAIR)
    with pytest.raises(zmq.ZMQError) as info:
        getattr(sock, call)(endpoint)
    assert repr(endpoint) in str(info.value)
    assert f"cannot {call}" in str(info.value)
    peer = ctx.socket(zmq.PAIR)
    peer.connect(sock.bind(inproc_name()))
    await assert_still_works(sock, peer)


async def test_endpoint_must_be_text(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PAIR)
    with pytest.raises(TypeError, match="str"):
        sock.bind(b"tcp://127.0.0.1:*")  # type: ignore[arg-type]


async def test_address_in_use_says_so(ctx: trio_zmq.Context) -> None:
    first = ctx.socket(zmq.PULL)
    endpoint = first.bind("tcp://127.0.0.1:*")
    second = ctx.socket(zmq.PULL)
    with pytest.raises(zmq.ZMQError, match="already bound") as info:
        second.bind(endpoint)
    assert endpoint in str(info.value)
    push = ctx.socket(zmq.PUSH)
    push.connect(second.bind("tcp://127.0.0.1:*"))
    await assert_still_works(push, second)


async def test_unbinding_an_unknown_endpoint_says_what_to_use(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)
    with pytest.raises(zmq.ZMQError, match="bind\\(\\) returned"):
        sock.unbind("tcp://127.0.0.1:1")


async def test_req_receiving_first_raises_efsm_saying_the_order(ctx: trio_zmq.Context) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ)
    with pytest.raises(zmq.ZMQError, match="send\\(\\) one request") as info:
        await req.recv()
    assert info.value.errno == zmq.EFSM
    await req.send(b"q")
    with pytest.raises(zmq.ZMQError, match="req_relaxed=1, req_correlate=1"):
        await req.send(b"again")
    assert await rep.recv() == b"q"
    with pytest.raises(zmq.ZMQError, match="recv\\(\\) a request"):
        await rep.recv()
    await rep.send(b"a")
    assert await req.recv() == b"a"


async def test_rep_sending_first_raises_efsm_saying_the_order(ctx: trio_zmq.Context) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ)
    with pytest.raises(zmq.ZMQError, match="recv\\(\\) a request") as info:
        await rep.send(b"too soon")
    assert info.value.errno == zmq.EFSM
    await req.send(b"q")
    assert await rep.recv() == b"q"
    await rep.send(b"a")
    assert await req.recv() == b"a"


async def test_req_after_cancelled_recv_must_receive_again(ctx: trio_zmq.Context) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ)
    await req.send(b"q")
    with trio.move_on_after(0.01):
        await req.recv()  # no reply yet: cancelled, had no effect
    with pytest.raises(zmq.ZMQError, match="call recv\\(\\) again"):
        await req.send(b"next")
    assert await rep.recv() == b"q"
    await rep.send(b"late")
    assert await req.recv() == b"late"


async def test_relaxed_req_may_send_after_a_cancelled_recv(ctx: trio_zmq.Context) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ)
    req.req_relaxed = 1
    req.req_correlate = 1
    await req.send(b"first")
    with trio.move_on_after(0.01):
        await req.recv()
    await req.send(b"second")
    assert await rep.recv() == b"first"
    await rep.send(b"reply to first")  # dropped by the correlating REQ
    assert await rep.recv() == b"second"
    await rep.send(b"reply to second")
    assert await req.recv() == b"reply to second"


async def test_closed_socket_raises_closed_resource_error_everywhere(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.DEALER)
    sock.close()
    for call in (
        lambda: sock.bind(inproc_name()),
        lambda: sock.connect("tcp://127.0.0.1:1"),
        lambda: sock.set(zmq.LINGER, 0),
        lambda: sock.get(zmq.LINGER),
        lambda: sock.subscribe(b""),
        lambda: setattr(sock, "linger", 0),
        lambda: sock.recv_nowait(),
        lambda: sock.send_nowait(b"x"),
    ):
        with pytest.raises(trio.ClosedResourceError):
            call()
    for acall in (
        lambda: sock.send(b"x"),
        lambda: sock.send_multipart([b"x"]),
        lambda: sock.recv(),
        lambda: sock.recv_multipart(),
        lambda: sock.poll(0),
        lambda: sock.send_json(1),
    ):
        with pytest.raises(trio.ClosedResourceError):
            await acall()


async def test_closed_context_refuses_new_sockets() -> None:
    ctx = trio_zmq.Context()
    await ctx.aclose()
    with pytest.raises(trio.ClosedResourceError, match="context"):
        ctx.socket(zmq.PAIR)


async def test_terminated_underlying_context_reads_as_closed() -> None:
    zctx = zmq.Context()
    ctx = trio_zmq.Context.from_context(zctx)
    zctx.term()
    with pytest.raises(trio.ClosedResourceError, match="terminated"):
        ctx.socket(zmq.PAIR)


async def test_bad_option_leaves_no_socket_behind(ctx: trio_zmq.Context) -> None:
    with pytest.raises(AttributeError, match="no socket option 'bogus'"):
        ctx.socket(zmq.PAIR, bogus=1)
    with pytest.raises(TypeError, match="takes an int"):
        ctx.socket(zmq.PAIR, linger="long")
    sock = ctx.socket(zmq.PAIR)
    with pytest.raises(zmq.ZMQError, match="SUBSCRIBE"):
        sock.subscribe(b"x")  # PAIR sockets have no subscriptions
    assert list(ctx._sockets) == [sock]


async def test_socket_used_from_another_thread_raises_runtime_error(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)

    async def elsewhere() -> None:
        await a.send(b"x")

    with pytest.raises(RuntimeError, match="another trio.run"):
        await trio.to_thread.run_sync(trio.run, elsewhere)
    await assert_still_works(a, b)


async def test_lent_socket_raises_busy_resource_error(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    with a.lend("a test"):
        with pytest.raises(trio.BusyResourceError, match="in use by a test"):
            await a.send(b"x")
        with pytest.raises(trio.BusyResourceError, match="in use by a test"):
            _ = a.linger
        with pytest.raises(trio.BusyResourceError):
            a.close()
    await assert_still_works(a, b)
