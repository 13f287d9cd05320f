"""Every socket type pair, over tcp, ipc and inproc."""

from __future__ import annotations

from typing import cast

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq.testing import PairMaker, Transport, wait_subscribed

from .helpers import pair

TRANSPORTS = ["inproc", "tcp"] + (["ipc"] if zmq.has("ipc") else [])


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> Transport:
    return cast("Transport", request.param)


async def test_req_rep(ctx: trio_zmq.Context, transport: str) -> None:
    rep, req = pair(ctx, zmq.REP, zmq.REQ, transport)
    for i in range(3):
        await req.send(b"q%d" % i)
        assert await rep.recv() == b"q%d" % i
        await rep.send(b"a%d" % i)
        assert await req.recv() == b"a%d" % i


async def test_req_router(ctx: trio_zmq.Context, transport: str) -> None:
    router, req = pair(ctx, zmq.ROUTER, zmq.REQ, transport)
    await req.send(b"q")
    peer, empty, body = await router.recv_multipart()
    assert (empty, body) == (b"", b"q")
    await router.send_multipart([peer, b"", b"a"])
    assert await req.recv() == b"a"


async def test_dealer_rep(ctx: trio_zmq.Context, transport: str) -> None:
    rep, dealer = pair(ctx, zmq.REP, zmq.DEALER, transport)
    await dealer.send_multipart([b"", b"q"])
    assert await rep.recv() == b"q"
    await rep.send(b"a")
    assert await dealer.recv_multipart() == [b"", b"a"]


async def test_dealer_router(ctx: trio_zmq.Context, transport: str) -> None:
    router, dealer = pair(ctx, zmq.ROUTER, zmq.DEALER, transport)
    dealer_id = b"dealer-1"
    dealer.routing_id = dealer_id  # before connecting would be usual; set it for the next pair
    other = ctx.socket(zmq.DEALER, routing_id=b"dealer-2")
    other.connect(router.get_string(zmq.LAST_ENDPOINT))
    await other.send(b"hi")
    assert await router.recv_multipart() == [b"dealer-2", b"hi"]
    await router.send_multipart([b"dealer-2", b"back"])
    assert await other.recv() == b"back"
    await dealer.send(b"anon")
    peer, body = await router.recv_multipart()
    assert body == b"anon"
    await router.send_multipart([peer, b"to anon"])
    assert await dealer.recv() == b"to anon"


async def test_dealer_dealer(ctx: trio_zmq.Context, transport: str) -> None:
    a, b = pair(ctx, zmq.DEALER, zmq.DEALER, transport)
    await a.send(b"1")
    await b.send(b"2")
    assert await b.recv() == b"1"
    assert await a.recv() == b"2"


async def test_pub_sub(zmq_pair: PairMaker, transport: Transport) -> None:
    pub, sub = await zmq_pair(zmq.PUB, zmq.SUB, transport, subscribe=b"t")
    await pub.send(b"x-ignored")
    await pub.send_multipart([b"t", b"body"])
    assert await sub.recv_multipart() == [b"t", b"body"]


async def test_xpub_xsub(ctx: trio_zmq.Context, transport: str) -> None:
    xpub, xsub = pair(ctx, zmq.XPUB, zmq.XSUB, transport)
    await xsub.send(b"\x01topic")  # an XSUB subscribes by sending
    assert await xpub.recv() == b"\x01topic"  # and the XPUB sees it
    await xpub.send(b"topic 1")
    assert await xsub.recv() == b"topic 1"


async def test_xpub_sub_and_pub_xsub(ctx: trio_zmq.Context, transport: str) -> None:
    xpub, sub = pair(ctx, zmq.XPUB, zmq.SUB, transport)
    sub.subscribe(b"k")
    assert await xpub.recv() == b"\x01k"
    await xpub.send(b"k1")
    assert await sub.recv() == b"k1"
    pub, xsub = pair(ctx, zmq.PUB, zmq.XSUB, transport)
    await xsub.send(b"\x01")  # an XSUB subscribes by sending
    await wait_subscribed(pub, xsub)
    await pub.send(b"any")
    assert await xsub.recv() == b"any"


async def test_push_pull(ctx: trio_zmq.Context, transport: str) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH, transport)
    for i in range(10):
        await push.send(b"%d" % i)
    assert [await pull.recv() for _ in range(10)] == [b"%d" % i for i in range(10)]


async def test_pair_pair(ctx: trio_zmq.Context, transport: str) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, transport)
    await a.send(b"ping")
    assert await b.recv() == b"ping"
    await b.send(b"pong")
    assert await a.recv() == b"pong"


async def test_stream_talks_raw_tcp(ctx: trio_zmq.Context) -> None:
    stream = ctx.socket(zmq.STREAM)
    endpoint = stream.bind("tcp://127.0.0.1:*")
    port = int(endpoint.rsplit(":", 1)[1])
    client = await trio.open_tcp_stream("127.0.0.1", port)
    async with client:
        peer, empty = await stream.recv_multipart()  # the connect notification
        assert empty == b""
        await client.send_all(b"raw bytes")
        got = b""
        while got != b"raw bytes":
            who, data = await stream.recv_multipart()
            assert who == peer
            got += data
        await stream.send_multipart([peer, b"raw reply"])
        assert await client.receive_some(100) == b"raw reply"


@pytest.mark.skipif(not zmq.has("draft"), reason="libzmq built without draft sockets")
async def test_draft_client_server(ctx: trio_zmq.Context) -> None:  # pragma: no cover
    server, client = pair(ctx, zmq.SERVER, zmq.CLIENT)
    await client.send(b"hi")
    frame = await server.recv(copy=False)
    assert frame.bytes == b"hi"
