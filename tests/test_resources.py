"""Resources: many sockets leave no file descriptors or memory behind; many peers are served.

The long versions (10,000 sockets, a 1,000,000-message soak through a proxy)
run only when ``TRIO_ZMQ_SOAK=1`` (the ``soak`` nox session).
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tracemalloc

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import inproc_name

SOAK = os.environ.get("TRIO_ZMQ_SOAK") == "1"
soak_only = pytest.mark.skipif(not SOAK, reason="soak test: set TRIO_ZMQ_SOAK=1 (nox -s soak)")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def fds_settle_to(baseline: int) -> int:
    """libzmq's reaper thread frees a closed socket's FDs a moment later: wait for it."""
    with trio.move_on_after(5):
        while open_fds() > baseline:
            await trio.sleep(0.01)
    return open_fds()


async def _open_use_close(ctx: trio_zmq.Context, count: int) -> None:
    for i in range(count):
        a = ctx.socket(zmq.PAIR)
        b = ctx.socket(zmq.PAIR)
        b.connect(a.bind("tcp://127.0.0.1:*" if i % 50 == 0 else inproc_name("res")))
        if i % 20 == 0:
            # Wait on the FD too, so that closing has an epoll registration to undo.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(b.recv)
                await trio.testing.wait_all_tasks_blocked()
                await a.send(b"x")
        else:
            await a.send(b"x")
            assert await b.recv() == b"x"
        a.close()
        b.close()


async def _check_no_leak(count: int) -> None:
    async with trio_zmq.Context(linger=0) as ctx:
        await _open_use_close(ctx, 100)  # warm up: caches, first-use allocations
        gc.collect()
        fds_before = await fds_settle_to(open_fds())
        tracemalloc.start()
        try:
            await _open_use_close(ctx, 50)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            await _open_use_close(ctx, count)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert not ctx._sockets
        assert await fds_settle_to(fds_before) <= fds_before
        # Allocator noise only: far below one byte per socket made.
        assert grown < 64 * 1024, f"{grown} bytes left behind by {count} sockets"


@linux_only
@pytest.mark.timeout_seconds(60)
async def test_opening_and_closing_2000_connected_sockets_leaves_nothing_behind() -> None:
    await _check_no_leak(2000)


@soak_only
@linux_only
@pytest.mark.timeout_seconds(600)
async def test_opening_and_closing_10000_connected_sockets_leaves_nothing_behind() -> None:
    await _check_no_leak(10_000)


async def test_an_idle_socket_costs_at_most_2_kib_beyond_pyzmq(ctx: trio_zmq.Context) -> None:
    n = 300

    def measure(make: object) -> float:
        socks = []
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            socks = [make() for _ in range(n)]  # type: ignore[operator]
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        for s in socks:
            s.close()
        return used / n

    raw = measure(lambda: ctx.underlying.socket(zmq.DEALER))
    wrapped = measure(lambda: ctx.socket(zmq.DEALER))
    assert wrapped - raw <= 2048, f"a trio_zmq socket costs {wrapped - raw:.0f} bytes more"


@pytest.mark.timeout_seconds(60)
async def test_200_connections_on_one_router_are_each_served(ctx: trio_zmq.Context) -> None:
    router = ctx.socket(zmq.ROUTER)
    endpoint = router.bind("tcp://127.0.0.1:*")
    dealers = [ctx.socket(zmq.DEALER, routing_id=b"d%d" % i) for i in range(200)]
    served: set[bytes] = set()

    async def serve() -> None:
        while len(served) < len(dealers):
            peer, body = await router.recv_multipart()
            assert body == b"ping from " + peer
            served.add(peer)
            await router.send_multipart([peer, b"pong for " + peer])

    async def client(dealer: trio_zmq.Socket) -> None:
        dealer.connect(endpoint)
        me = dealer.routing_id
        await dealer.send(b"ping from " + me)
        assert await dealer.recv() == b"pong for " + me

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        for dealer in dealers:
            nursery.start_soon(client, dealer)
    assert served == {d.routing_id for d in dealers}


@soak_only
@pytest.mark.timeout_seconds(3600)
async def test_a_million_messages_through_a_proxy_with_random_cancellations_lose_nothing(
    ctx: trio_zmq.Context,
) -> None:
    total = 1_000_000
    frontend = ctx.socket(zmq.PULL, rcvhwm=10)
    backend = ctx.socket(zmq.PUSH, sndhwm=10)
    push = ctx.socket(zmq.PUSH, sndhwm=10)
    pull = ctx.socket(zmq.PULL, rcvhwm=10)
    push.connect(frontend.bind(inproc_name("soak-in")))
    pull.connect(backend.bind(inproc_name("soak-out")))
    deadlines = (-1.0, 0.0, 1e-5, 1e-4, 1e-3, float("inf"), float("inf"))

    async def until_done(rng: random.Random, call: object) -> object:
        while True:
            with trio.CancelScope(deadline=trio.current_time() + rng.choice(deadlines)):
                return await call()  # type: ignore[operator]

    async def sender() -> None:
        rng = random.Random(1)
        for i in range(total):
            await until_done(rng, lambda: push.send(b"%d" % i))

    async with trio.open_nursery() as nursery:
        await nursery.start(trio_zmq.proxy, frontend, backend)
        nursery.start_soon(sender)
        rng = random.Random(2)
        for i in range(total):
            assert await until_done(rng, pull.recv) == b"%d" % i
        nursery.cancel_scope.cancel()
