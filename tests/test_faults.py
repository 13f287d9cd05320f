"""A peer process killed mid-stream: trio_zmq reconnects by itself, nothing hangs.

The peer is a separate Python process running plain pyzmq, bound to a fixed
tcp port, so that a restarted peer is found at the same endpoint. The
trio_zmq side connects, keeps traffic flowing, and sees the peer die with
SIGKILL (no goodbye on the wire) and come back. Messages in flight when the
peer dies may be lost (ZeroMQ's own contract); after the restart, traffic
must flow again without any action from the program, and no exception may
escape.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import zmq

import trio_zmq

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")

PEER = r"""
import sys, time, zmq
mode, port, port2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = zmq.Context()
if mode == "echo":          # ROUTER: send every message back to its sender
    s = ctx.socket(zmq.ROUTER)
    s.bind(f"tcp://127.0.0.1:{port}")
    print("ready", flush=True)
    while True:
        s.send_multipart(s.recv_multipart())
elif mode == "relay":       # PULL on port, PUSH on port2
    pull = ctx.socket(zmq.PULL)
    pull.bind(f"tcp://127.0.0.1:{port}")
    push = ctx.socket(zmq.PUSH)
    push.bind(f"tcp://127.0.0.1:{port2}")
    print("ready", flush=True)
    while True:
        push.send_multipart(pull.recv_multipart())
elif mode == "worker":      # DEALER connected to port: a broker's worker, echoing
    s = ctx.socket(zmq.DEALER)
    s.connect(f"tcp://127.0.0.1:{port}")
    print("ready", flush=True)
    while True:
        s.send_multipart(s.recv_multipart())
elif mode == "pub":         # PUB: b"generation:n" every millisecond; generation = port2
    pub = ctx.socket(zmq.PUB)
    pub.bind(f"tcp://127.0.0.1:{port}")
    print("ready", flush=True)
    i = 0
    while True:
        pub.send(b"%d:%d" % (port2, i))
        i += 1
        time.sleep(0.001)
"""


def free_port() -> int:
    """A port nobody listens on now (bound with a plain socket, then freed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def peer(mode: str, port: int, port2: int = 0) -> AsyncIterator[trio.Process]:
    """Run the peer until the block exits; it is SIGKILLed then if still alive."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", PEER, mode, str(port), str(port2)], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = b""
        while not line.endswith(b"\n"):
            chunk = await proc.stdout.receive_some(64)
            assert chunk, "the peer died before it was ready"
            line += chunk
        assert line == b"ready\n"
        yield proc
    finally:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
            if proc.stdout is not None:
                await proc.stdout.aclose()


async def kill(proc: trio.Process) -> None:
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL


async def until_answered(send: trio_zmq.Socket, recv: trio_zmq.Socket, tag: bytes) -> None:
    """Send probes until one comes back (ones in flight when a peer dies are lost)."""
    seq = 0
    while True:
        seq += 1
        await send.send_multipart([tag, b"%d" % seq])
        with trio.move_on_after(0.2):
            while True:
                got = await recv.recv_multipart()
                if got == [tag, b"%d" % seq]:
                    return


@pytest.mark.timeout_seconds(30)
async def test_dealer_reconnects_to_a_killed_and_restarted_router() -> None:
    port = free_port()
    async with trio_zmq.Context(linger=0) as ctx:
        dealer = ctx.socket(zmq.DEALER, sndhwm=10, reconnect_ivl=20, reconnect_ivl_max=100)
        dealer.connect(f"tcp://127.0.0.1:{port}")
        async with peer("echo", port) as first:
            await until_answered(dealer, dealer, b"before")
            async with trio.open_nursery() as nursery:
                # Mid-stream: a sender keeps going while the peer dies.
                nursery.start_soon(_send_forever, dealer, b"stream")
                await dealer.recv_multipart()
                await kill(first)
                nursery.cancel_scope.cancel()
        async with peer("echo", port):
            await until_answered(dealer, dealer, b"after")


@pytest.mark.timeout_seconds(30)
async def test_push_and_pull_reconnect_through_a_killed_and_restarted_relay() -> None:
    port, port2 = free_port(), free_port()
    async with trio_zmq.Context(linger=0) as ctx:
        push = ctx.socket(zmq.PUSH, sndhwm=10, reconnect_ivl=20, reconnect_ivl_max=100)
        pull = ctx.socket(zmq.PULL, reconnect_ivl=20, reconnect_ivl_max=100)
        push.connect(f"tcp://127.0.0.1:{port}")
        pull.connect(f"tcp://127.0.0.1:{port2}")
        async with peer("relay", port, port2) as first:
            await until_answered(push, pull, b"before")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_send_forever, push, b"stream")
                await pull.recv_multipart()
                await kill(first)
                nursery.cancel_scope.cancel()
        async with peer("relay", port, port2):
            await until_answered(push, pull, b"after")


@pytest.mark.timeout_seconds(30)
async def test_a_broker_in_a_proxy_task_survives_a_worker_crash() -> None:
    back_port = free_port()
    async with trio_zmq.Context(linger=0) as ctx:
        frontend = ctx.socket(zmq.ROUTER)
        backend = ctx.socket(zmq.DEALER)
        client = ctx.socket(zmq.DEALER)
        client.connect(frontend.bind("tcp://127.0.0.1:*"))
        backend.bind(f"tcp://127.0.0.1:{back_port}")
        async with trio.open_nursery() as nursery:
            await nursery.start(trio_zmq.proxy, frontend, backend)
            async with peer("worker", back_port) as first:
                await until_answered(client, client, b"before")
                async with trio.open_nursery() as traffic:
                    traffic.start_soon(_send_forever, client, b"stream")
                    await client.recv_multipart()
                    await kill(first)  # mid-stream: what it held is lost
                    traffic.cancel_scope.cancel()
            async with peer("worker", back_port):
                await until_answered(client, client, b"after")
            nursery.cancel_scope.cancel()  # the proxy never failed meanwhile


@pytest.mark.timeout_seconds(30)
async def test_sub_reconnects_to_a_killed_and_restarted_publisher() -> None:
    port = free_port()
    async with trio_zmq.Context(linger=0) as ctx:
        sub = ctx.socket(zmq.SUB, subscribe=b"", reconnect_ivl=20, reconnect_ivl_max=100)
        sub.connect(f"tcp://127.0.0.1:{port}")
        async with peer("pub", port, 1) as first:
            for _ in range(10):
                await sub.recv()
            await kill(first)
        # Whatever was queued before the kill drains; then nothing, until
        # the restarted publisher's messages arrive.
        async with peer("pub", port, 2):
            while not (await sub.recv()).startswith(b"2:"):
                pass
            for _ in range(10):
                assert (await sub.recv()).startswith(b"2:")


async def _send_forever(sock: trio_zmq.Socket, tag: bytes) -> None:
    seq = 0
    while True:
        seq += 1
        await sock.send_multipart([tag, b"%d" % seq])
        await trio.sleep(0.001)


@pytest.mark.timeout_seconds(30)
async def test_leaving_a_context_with_dead_peers_and_queued_messages_ends_within_linger() -> None:
    # Each socket talks to a peer of a matching type: a PUSH connected to a
    # ROUTER fails the handshake, and libzmq may then drop its only pipe, so
    # a send would wait forever (a regression this test once had).
    echo_port, relay_port, relay_out = free_port(), free_port(), free_port()
    linger_ms = 300
    ctx = trio_zmq.Context(linger=linger_ms)
    try:
        push = ctx.socket(zmq.PUSH, sndhwm=1000)
        pull = ctx.socket(zmq.PULL)
        dealer = ctx.socket(zmq.DEALER, sndhwm=1000)
        push.connect(f"tcp://127.0.0.1:{relay_port}")
        pull.connect(f"tcp://127.0.0.1:{relay_out}")
        dealer.connect(f"tcp://127.0.0.1:{echo_port}")
        async with peer("echo", echo_port) as echo, peer("relay", relay_port, relay_out) as relay:
            await until_answered(dealer, dealer, b"hello")
            await until_answered(push, pull, b"hello")
            await kill(echo)
            await kill(relay)
        for i in range(100):
            await push.send(b"%d" % i)  # queued: nobody will ever take them
            await dealer.send(b"%d" % i)
        # A generous bound: the point is that it ends, bounded by the linger, not never.
        with trio.fail_after(linger_ms / 1000 + 10):
            await ctx.aclose()
        assert push.closed
        assert dealer.closed
    finally:
        if not ctx.closed:
            ctx.destroy(linger=0)


@pytest.mark.timeout_seconds(30)
async def test_default_linger_bounds_leaving_with_a_dead_peer() -> None:
    port = free_port()
    ctx = trio_zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        assert push.linger == trio_zmq.DEFAULT_LINGER
        push.connect(f"tcp://127.0.0.1:{port}")
        async with peer("relay", port, free_port()) as proc:
            await push.send(b"first")
            await kill(proc)
        await push.send(b"queued for a dead peer")
        with trio.fail_after(trio_zmq.DEFAULT_LINGER / 1000 + 10):
            await ctx.aclose()
    finally:
        if not ctx.closed:
            ctx.destroy(linger=0)
