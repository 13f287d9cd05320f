"""Bad input, table-driven: each case fails with a clear error, and the socket still works.

Extends ``test_errors.py`` (which covers text for bytes, bad endpoints, REQ/REP
order, bad options at creation) with wrong types and values across the API,
calls a socket type does not support, closed sockets and contexts, oversized
and empty messages, and text where bytes are needed. After every case, a
message makes a round trip through the same socket.
"""

from __future__ import annotations

import pickle
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq.testing import wait_subscribed

from .helpers import inproc_name, pair

# For each socket type under test: the peer type, and which end sends.
_PEERS: dict[int, tuple[int, bool]] = {
    zmq.PAIR: (zmq.PAIR, True),
    zmq.PUB: (zmq.SUB, True),
    zmq.SUB: (zmq.PUB, False),
    zmq.PUSH: (zmq.PULL, True),
    zmq.PULL: (zmq.PUSH, False),
}


async def _connected(
    ctx: trio_zmq.Context, sock_type: int
) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    """The socket under test and its peer, ready for a round trip."""
    peer_type, _ = _PEERS[sock_type]
    sock, peer = pair(ctx, sock_type, peer_type)
    for s in (sock, peer):
        if s.socket_type == zmq.SUB:
            s.subscribe(b"")
    if sock_type in (zmq.PUB, zmq.SUB):
        pub, sub = (sock, peer) if sock_type == zmq.PUB else (peer, sock)
        await wait_subscribed(pub, sub)
    return sock, peer


async def assert_round_trip(sock: trio_zmq.Socket, peer: trio_zmq.Socket) -> None:
    sender, receiver = (sock, peer) if _PEERS[sock.socket_type][1] else (peer, sock)
    await sender.send_multipart([b"still", b"works"])
    assert await receiver.recv_multipart() == [b"still", b"works"]


@dataclass(frozen=True)
class Case:
    name: str
    sock_type: int
    call: Callable[[trio_zmq.Socket], Any]  # returns an awaitable for async calls
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str

    def __str__(self) -> str:
        return self.name


def _unpicklable() -> object:
    return lambda: None


CASES = [
    # Wrong types and values.
    Case("send None", zmq.PAIR, lambda s: s.send(None), TypeError, "NoneType; use send_json"),  # type: ignore[call-overload]
    Case("send a list", zmq.PAIR, lambda s: s.send([b"a"]), TypeError, "use send_multipart"),  # type: ignore[call-overload]
    Case(
        "send_nowait a tuple",
        zmq.PAIR,
        lambda s: s.send_nowait((b"a",)),  # type: ignore[arg-type]
        TypeError,
        "send_multipart",
    ),
    Case("send unicode", zmq.PAIR, lambda s: s.send("héllo"), TypeError, "send_string"),  # type: ignore[call-overload]
    Case(
        "send_multipart unicode",
        zmq.PAIR,
        lambda s: s.send_multipart([b"a", "é"]),  # type: ignore[list-item]
        TypeError,
        "send_string",
    ),
    Case(
        "send_multipart None",
        zmq.PAIR,
        lambda s: s.send_multipart([None]),  # type: ignore[list-item]
        TypeError,
        "NoneType",
    ),
    Case(
        "send_string unknown encoding",
        zmq.PAIR,
        lambda s: s.send_string("x", encoding="bogus"),
        LookupError,
        "bogus",
    ),
    Case(
        "send_json not serializable",
        zmq.PAIR,
        lambda s: s.send_json(object()),
        TypeError,
        "JSON serializable",
    ),
    Case(
        "send_pyobj not picklable",
        zmq.PAIR,
        lambda s: s.send_pyobj(_unpicklable()),
        (AttributeError, pickle.PicklingError),
        "pickle|local object",  # Python 3.13 says "Can't get local object"
    ),
    Case(
        "close with a text linger",
        zmq.PAIR,
        lambda s: s.close(linger="soon"),  # type: ignore[arg-type]
        TypeError,
        "linger in ms",
    ),
    Case("linger as float", zmq.PAIR, lambda s: s.set(zmq.LINGER, 1.5), TypeError, "int"),  # type: ignore[arg-type]
    Case(
        "negative high-water mark",
        zmq.PAIR,
        lambda s: s.set(zmq.SNDHWM, -5),
        zmq.ZMQError,
        "invalid value -5 for option SNDHWM",
    ),
    Case(
        "unknown option number", zmq.PAIR, lambda s: s.set(99999, 1), zmq.ZMQError, "option 99999"
    ),
    Case(
        "unknown option attribute",
        zmq.PAIR,
        lambda s: setattr(s, "lingr", 0),
        AttributeError,
        "lower case",
    ),
    Case(
        "text for an int option",
        zmq.PAIR,
        lambda s: setattr(s, "sndhwm", "many"),
        TypeError,
        "takes an int",
    ),
    Case("connect to None", zmq.PAIR, lambda s: s.connect(None), TypeError, "endpoint as str"),  # type: ignore[arg-type]
    Case(
        "bind to a port past 65535",  # libzmq would wrap it around silently
        zmq.PAIR,
        lambda s: s.bind("tcp://127.0.0.1:99999"),
        zmq.ZMQError,
        "port 99999 is out of range",
    ),
    Case(
        "connect to a port past 65535",
        zmq.PAIR,
        lambda s: s.connect("tcp://127.0.0.1:70000"),
        zmq.ZMQError,
        "out of range",
    ),
    Case(
        "bind_to_random_port to nonsense",
        zmq.PAIR,
        lambda s: s.bind_to_random_port("nonsense"),
        zmq.ZMQError,
        "endpoints look like",
    ),
    # Calls the socket type does not support.
    Case(
        "recv on a PUB",
        zmq.PUB,
        lambda s: s.recv(),
        zmq.ZMQError,
        "PUB socket only sends; receive with a SUB",
    ),
    Case(
        "recv_multipart on a PUB",
        zmq.PUB,
        lambda s: s.recv_multipart(),
        zmq.ZMQError,
        "receive with a SUB",
    ),
    Case(
        "recv_nowait on a PUB",
        zmq.PUB,
        lambda s: s.recv_nowait(),
        zmq.ZMQError,
        "receive with a SUB",
    ),
    Case(
        "send on a SUB",
        zmq.SUB,
        lambda s: s.send(b"x"),
        zmq.ZMQError,
        "SUB socket only receives; send with a PUB",
    ),
    Case(
        "send_multipart on a SUB",
        zmq.SUB,
        lambda s: s.send_multipart([b"x", b"y"]),
        zmq.ZMQError,
        "send with a PUB",
    ),
    Case(
        "send_nowait on a SUB",
        zmq.SUB,
        lambda s: s.send_nowait(b"x"),
        zmq.ZMQError,
        "send with a PUB",
    ),
    Case("recv on a PUSH", zmq.PUSH, lambda s: s.recv(), zmq.ZMQError, "receive with a PULL"),
    Case("send on a PULL", zmq.PULL, lambda s: s.send(b"x"), zmq.ZMQError, "send with a PUSH"),
    Case(
        "subscribe on a PUSH",
        zmq.PUSH,
        lambda s: s.subscribe(b"topic"),
        zmq.ZMQError,
        "only SUB and XSUB",
    ),
    Case(
        "unsubscribe on a PUSH",
        zmq.PUSH,
        lambda s: s.unsubscribe("topic"),
        zmq.ZMQError,
        "only SUB and XSUB",
    ),
    Case("subscribe to an int", zmq.SUB, lambda s: s.subscribe(1), TypeError, "bytes"),  # type: ignore[arg-type]
    # Messages that are no ordered list of frames, and flags that are no int.
    Case(
        "send_multipart None",
        zmq.PAIR,
        lambda s: s.send_multipart(None),  # type: ignore[arg-type]
        TypeError,
        "list of frames, not NoneType",
    ),
    Case(
        "send_multipart a set",
        zmq.PAIR,
        lambda s: s.send_multipart({b"a", b"b"}),
        TypeError,
        "in order .* not a set",
    ),
    Case(
        "send_multipart_nowait a frozenset",
        zmq.PAIR,
        lambda s: s.send_multipart_nowait(frozenset({b"a"})),
        TypeError,
        "not a frozenset",
    ),
    Case("send flags as text", zmq.PAIR, lambda s: s.send(b"x", "more"), TypeError, r"send\(\) takes flags as an int.*str 'more'"),  # type: ignore[call-overload]
    Case("send_multipart flags as None", zmq.PAIR, lambda s: s.send_multipart([b"x"], None), TypeError, "send_multipart.*flags as an int"),  # type: ignore[arg-type]
    Case("recv flags as float", zmq.PAIR, lambda s: s.recv(1.5), TypeError, r"recv\(\) takes flags as an int"),  # type: ignore[call-overload]
    Case("recv_multipart flags as text", zmq.PAIR, lambda s: s.recv_multipart("x"), TypeError, "recv_multipart.*flags"),  # type: ignore[call-overload]
    Case("send_nowait flags as text", zmq.PAIR, lambda s: s.send_nowait(b"x", "x"), TypeError, "send_nowait.*flags"),  # type: ignore[arg-type]
    Case("recv_nowait flags as text", zmq.PAIR, lambda s: s.recv_nowait("x"), TypeError, "recv_nowait.*flags"),  # type: ignore[arg-type]
    Case("recv_multipart_nowait flags as text", zmq.PAIR, lambda s: s.recv_multipart_nowait("x"), TypeError, "recv_multipart_nowait.*flags"),  # type: ignore[arg-type]
    Case("poll flags as text", zmq.PAIR, lambda s: s.poll(0, "in"), TypeError, "poll.*flags"),  # type: ignore[arg-type]
]  # fmt: skip


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(lambda: (f for f in [b"a", b"b"]), id="generator"),
        pytest.param(lambda: iter([b"a", b"b"]), id="iterator"),
        pytest.param(lambda: {b"a": 1, b"b": 2}.keys(), id="dict keys"),
        pytest.param(lambda: map(bytes, [b"a", b"b"]), id="map"),
    ],
)
async def test_send_multipart_takes_any_ordered_iterable_of_frames(
    ctx: trio_zmq.Context, frames: Callable[[], Any]
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send_multipart(frames())
    a.send_multipart_nowait(frames())
    assert await b.recv_multipart() == [b"a", b"b"]
    assert await b.recv_multipart() == [b"a", b"b"]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_bad_call_raises_a_clear_error_and_the_socket_still_works(
    ctx: trio_zmq.Context, case: Case
) -> None:
    sock, peer = await _connected(ctx, case.sock_type)
    with pytest.raises(case.error, match=case.match):
        result = case.call(sock)
        if isinstance(result, Awaitable):
            await result
    await assert_round_trip(sock, peer)


@pytest.mark.parametrize(
    ("socket_type", "error", "match"),
    [
        ("PUSH", TypeError, "such as zmq.PUSH"),
        (None, TypeError, "such as zmq.PUSH"),
        (9999, zmq.ZMQError, "9999 is not a ZeroMQ socket type"),
    ],
)
async def test_bad_socket_type_says_what_to_use_and_leaves_nothing_behind(
    ctx: trio_zmq.Context, socket_type: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ctx.socket(socket_type)
    assert not ctx._sockets
    sock, peer = await _connected(ctx, zmq.PAIR)
    await assert_round_trip(sock, peer)


# Every call not already in test_errors.test_closed_socket_raises_closed_resource_error_everywhere.
CLOSED_SYNC: list[Callable[[trio_zmq.Socket], object]] = [
    lambda s: s.unbind("tcp://127.0.0.1:1"),
    lambda s: s.disconnect("tcp://127.0.0.1:1"),
    lambda s: s.unsubscribe(b""),
    lambda s: s.linger,
    lambda s: s.fileno(),
    lambda s: s.bind_to_random_port("tcp://127.0.0.1"),
    lambda s: s.set_string(zmq.ROUTING_ID, "x"),
    lambda s: s.get_string(zmq.LAST_ENDPOINT),
    lambda s: s.send_multipart_nowait([b"x"]),
    lambda s: s.recv_multipart_nowait(),
]
CLOSED_ASYNC: list[Callable[[trio_zmq.Socket], Awaitable[object]]] = [
    lambda s: s.send(b"x", zmq.SNDMORE),
    lambda s: s.send_multipart([b"x", b"y"], zmq.SNDMORE),
    lambda s: s.send(b"x", zmq.NOBLOCK),
    lambda s: s.send_string("x"),
    lambda s: s.send_pyobj(1),
    lambda s: s.send_serialized(1, lambda m: [b"%d" % m]),
    lambda s: s.recv(zmq.NOBLOCK),
    lambda s: s.recv(copy=False),
    lambda s: s.recv_string(),
    lambda s: s.recv_json(),
    lambda s: s.recv_pyobj(),
    lambda s: s.recv_serialized(lambda frames: frames),
    lambda s: s.poll(None, zmq.POLLOUT),
]


@pytest.mark.parametrize("call", [*CLOSED_SYNC, *CLOSED_ASYNC])
async def test_every_call_on_a_closed_socket_raises_closed_resource_error(
    ctx: trio_zmq.Context, call: Callable[[trio_zmq.Socket], Any]
) -> None:
    sock = ctx.socket(zmq.DEALER)
    sock.close()
    with pytest.raises(trio.ClosedResourceError, match="closed"):
        result = call(sock)
        if isinstance(result, Awaitable):
            await result
    sock.close()  # closing again is fine
    await sock.aclose()
    a, b = await _connected(ctx, zmq.PAIR)  # the context still makes working sockets
    await assert_round_trip(a, b)


async def test_iterating_a_closed_socket_ends_at_once(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)
    sock.close()
    assert [msg async for msg in sock] == []


async def test_sockets_of_a_closed_context_raise_closed_resource_error() -> None:
    ctx = trio_zmq.Context(linger=0)
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await ctx.aclose()
    for sock in (a, b):
        assert sock.closed
        with pytest.raises(trio.ClosedResourceError):
            await sock.send(b"x")
        with pytest.raises(trio.ClosedResourceError):
            sock.connect("tcp://127.0.0.1:1")
    with pytest.raises(trio.ClosedResourceError, match="context"):
        ctx.socket(zmq.PAIR)


async def test_sockets_of_a_destroyed_context_raise_closed_resource_error() -> None:
    ctx = trio_zmq.Context(linger=0)
    a, _ = pair(ctx, zmq.PAIR, zmq.PAIR)
    ctx.destroy()
    with pytest.raises(trio.ClosedResourceError):
        await a.recv()
    await ctx.aclose()  # after destroy: nothing left to do, and no error


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
async def test_a_64_mib_frame_makes_the_round_trip(ctx: trio_zmq.Context, transport: str) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, transport)
    big = bytes(range(256)) * (64 * 1024 * 4)
    assert len(big) == 64 * 1024 * 1024
    await a.send(big, copy=False)
    frame = await b.recv(copy=False)
    assert frame.buffer == big
    await assert_round_trip(a, b)


async def test_a_frame_over_maxmsgsize_drops_the_connection_not_the_process(
    ctx: trio_zmq.Context,
) -> None:
    pull = ctx.socket(zmq.PULL, maxmsgsize=1024)
    push = ctx.socket(zmq.PUSH, reconnect_ivl=10)
    push.connect(pull.bind("tcp://127.0.0.1:*"))
    await push.send(b"x" * 4096)  # queued; the receiver drops the connection
    # The sender reconnects by itself; a small message gets through again.
    # (Sent repeatedly: one written to the dropped connection is lost with it.)
    while True:
        await push.send(b"small")
        with trio.move_on_after(0.05):
            assert await pull.recv() == b"small"
            break
    while True:
        try:
            assert await pull.recv(zmq.NOBLOCK) == b"small"  # never the big one
        except zmq.Again:
            break


@pytest.mark.parametrize(
    "message",
    [[b""], [b"", b""], [b"", b"x", b""], [b"x", b""]],
    ids=["empty", "two empty", "empty around", "empty last"],
)
async def test_empty_frames_arrive_as_sent(ctx: trio_zmq.Context, message: list[bytes]) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send_multipart(message)
    assert await b.recv_multipart() == message
    await a.send(b"")
    assert await b.recv() == b""
    await a.send_string("")
    assert await b.recv_string() == ""


async def test_empty_frames_pass_a_router(ctx: trio_zmq.Context) -> None:
    router = ctx.socket(zmq.ROUTER)
    dealer = ctx.socket(zmq.DEALER, routing_id=b"d")
    dealer.connect(router.bind(inproc_name()))
    await dealer.send_multipart([b"", b""])
    assert await router.recv_multipart() == [b"d", b"", b""]
    await router.send_multipart([b"d", b""])
    assert await dealer.recv_multipart() == [b""]


async def test_text_topics_and_routing_ids_are_encoded_as_utf8(ctx: trio_zmq.Context) -> None:
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)
    sub.subscribe("thé")
    await wait_subscribed(pub, sub, "thé".encode())
    await pub.send("thé: ☕".encode())
    assert await sub.recv_string() == "thé: ☕"
    router = ctx.socket(zmq.ROUTER)
    dealer = ctx.socket(zmq.DEALER)
    dealer.set(zmq.ROUTING_ID, "名前")
    dealer.connect(router.bind(inproc_name()))
    await dealer.send(b"hi")
    assert await router.recv_multipart() == ["名前".encode(), b"hi"]


async def test_undecodable_text_is_consumed_and_the_socket_still_works(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    await a.send(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        await b.recv_string()
    with pytest.raises(zmq.Again):
        await b.recv(zmq.NOBLOCK)  # the bad frame is gone
    await assert_round_trip(a, b)


async def test_an_address_in_use_names_the_endpoint_once(ctx: trio_zmq.Context) -> None:
    taken = ctx.socket(zmq.PULL)
    endpoint = taken.bind("tcp://127.0.0.1:*")
    other = ctx.socket(zmq.PULL)
    with pytest.raises(zmq.ZMQError, match="already bound there") as info:
        other.bind(endpoint)
    assert str(info.value).count(endpoint) == 1
    assert other.bind("tcp://127.0.0.1:*")  # still usable
