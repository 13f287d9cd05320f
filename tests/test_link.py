"""trio_zmq.testing.open_link: a cable between real ZeroMQ peers, partitioned, cut, slowed.

Every test runs real trio_zmq sockets (of the plugin's ``zmq_context``) over
TCP through a link. Where a test needs the link to be idle, it waits with
``wait_all_tasks_blocked``; where it waits for the link to get somewhere, it
polls ``statistics()``. The two 0.2 s sleeps only give a broken partition
the chance to let a byte through: a working one passes whatever the
machine's load. The only wall-clock bounds are those the issue names, with
wide margins.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq.testing import Link, LinkStatistics, open_link

MiB = 1024 * 1024
HEARTBEAT_IVL_MS = 100
HEARTBEAT_TIMEOUT_MS = 300
HEARTBEATS = {"heartbeat_ivl": HEARTBEAT_IVL_MS, "heartbeat_timeout": HEARTBEAT_TIMEOUT_MS}
RELAY_TASK_PREFIXES = ("trio_zmq.testing.link", "trio._highlevel_serve_listeners")


async def _until(events: trio_zmq.MonitorEvents, wanted: zmq.Event) -> trio_zmq.MonitorEvent:
    """The first *wanted* event, skipping the others."""
    async for event in events:
        if event.event == wanted:
            return event
    raise AssertionError(f"the events ended before {wanted.name}")


async def _round_trip(client: trio_zmq.Socket, server: trio_zmq.Socket, body: bytes) -> None:
    """DEALER *client* to ROUTER *server* and back."""
    await client.send(body)
    identity, received = await server.recv_multipart()
    assert received == body
    await server.send_multipart([identity, body + b" back"])
    assert await client.recv() == body + b" back"


@dataclass(frozen=True)
class _WatchedEnds:
    """A bound ROUTER and a DEALER to connect, each with its monitor."""

    server: trio_zmq.Socket
    client: trio_zmq.Socket
    server_events: trio_zmq.MonitorEvents
    client_events: trio_zmq.MonitorEvents
    target: str  # the server's endpoint, for the link to relay to

    async def connect_through(self, link: Link) -> None:
        """Connect the client through *link*; return once both ends have shaken hands."""
        self.client.connect(link.endpoint)
        await _round_trip(self.client, self.server, b"hello")
        await _until(self.server_events, zmq.Event.HANDSHAKE_SUCCEEDED)
        await _until(self.client_events, zmq.Event.HANDSHAKE_SUCCEEDED)

    async def both_disconnected(self) -> None:
        await _until(self.server_events, zmq.Event.DISCONNECTED)
        await _until(self.client_events, zmq.Event.DISCONNECTED)


@asynccontextmanager
async def _watched_ends(ctx: trio_zmq.Context) -> AsyncIterator[_WatchedEnds]:
    server = ctx.socket(zmq.ROUTER)
    client = ctx.socket(zmq.DEALER)
    async with (
        trio_zmq.open_monitor(server) as server_events,
        trio_zmq.open_monitor(client) as client_events,
    ):
        target = server.bind("tcp://127.0.0.1:*")
        yield _WatchedEnds(server, client, server_events, client_events, target)


async def _timed_req_rep(req: trio_zmq.Socket, rep: trio_zmq.Socket) -> float:
    started = trio.current_time()
    await req.send(b"ping")
    assert await rep.recv() == b"ping"
    await rep.send(b"pong")
    assert await req.recv() == b"pong"
    return trio.current_time() - started


def _task_names() -> list[str]:
    root = trio.lowlevel.current_root_task()
    assert root is not None
    names = []
    pending = [root]
    while pending:
        task = pending.pop()
        names.append(task.name)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return names


def _relay_tasks() -> list[str]:
    return [name for name in _task_names() if name.startswith(RELAY_TASK_PREFIXES)]


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


# ----------------------------------------------------------------------
# Partitions


async def test_heartbeats_notice_a_partition_and_messages_flow_again_after_heal(
    zmq_context: trio_zmq.Context,
) -> None:
    server = zmq_context.socket(zmq.ROUTER, **HEARTBEATS)
    target = server.bind("tcp://127.0.0.1:*")
    client = zmq_context.socket(zmq.DEALER, **HEARTBEATS)
    async with open_link(target) as link, trio_zmq.open_monitor(client) as events:
        client.connect(link.endpoint)
        await _until(events, zmq.Event.HANDSHAKE_SUCCEEDED)
        await _round_trip(client, server, b"before")

        link.partition()
        partitioned_at = trio.current_time()
        await trio.testing.wait_all_tasks_blocked()  # a write under way has finished
        held = link.statistics()
        await _until(events, zmq.Event.DISCONNECTED)
        noticed_after = trio.current_time() - partitioned_at
        during = link.statistics()
        # Not a byte moved while the heartbeats went unanswered, and the link
        # closed nothing: the peer gave up on its own.
        assert (during.bytes_forward, during.bytes_back) == (held.bytes_forward, held.bytes_back)
        assert during.partitioned
        assert during.connections_open >= 1

        link.heal()
        await _until(events, zmq.Event.HANDSHAKE_SUCCEEDED)  # reconnected through the link
        await _round_trip(client, server, b"after")

    # A PING goes out every interval and the peer gives up when its answer is
    # late by the timeout, so the bound is their sum (plus scheduling slack on
    # a loaded machine); the lower bound shows it was the heartbeats, not a close.
    bound = (HEARTBEAT_IVL_MS + HEARTBEAT_TIMEOUT_MS) / 1000
    assert noticed_after >= (HEARTBEAT_TIMEOUT_MS - HEARTBEAT_IVL_MS) / 1000 * 0.75
    assert noticed_after < bound + 2.5


async def test_a_partition_holds_the_bytes_and_heal_delivers_them_in_order(
    zmq_context: trio_zmq.Context,
) -> None:
    pull = zmq_context.socket(zmq.PULL)
    target = pull.bind("tcp://127.0.0.1:*")
    push = zmq_context.socket(zmq.PUSH)
    async with open_link(target) as link:
        push.connect(link.endpoint)
        await push.send(b"first")
        assert await pull.recv() == b"first"

        link.partition()
        await trio.testing.wait_all_tasks_blocked()
        held = link.statistics()
        for n in range(3):
            await push.send(b"held %d" % n)
        await trio.sleep(0.2)  # time enough for a broken partition to leak
        with pytest.raises(zmq.Again):
            await pull.recv(zmq.NOBLOCK)
        assert link.statistics() == held
        assert held.connections_open == 1

        link.heal()
        assert [await pull.recv() for _ in range(3)] == [b"held 0", b"held 1", b"held 2"]
        assert link.statistics().connections_accepted == 1  # the same connection carried them


async def test_a_connection_made_during_a_partition_is_held_until_heal(
    zmq_context: trio_zmq.Context,
) -> None:
    pull = zmq_context.socket(zmq.PULL)
    target = pull.bind("tcp://127.0.0.1:*")
    push = zmq_context.socket(zmq.PUSH)
    async with open_link(target) as link:
        link.partition()
        push.connect(link.endpoint)
        await push.send(b"waited")
        while link.statistics().connections_accepted == 0:
            await trio.sleep(0.01)
        await trio.sleep(0.2)  # time enough for a broken partition to leak
        with pytest.raises(zmq.Again):
            await pull.recv(zmq.NOBLOCK)
        stats = link.statistics()
        assert (stats.connections_open, stats.bytes_forward, stats.bytes_back) == (1, 0, 0)

        link.heal()
        assert await pull.recv() == b"waited"


# ----------------------------------------------------------------------
# Cuts


async def test_a_cut_in_the_middle_of_a_large_message_never_delivers_a_fragment(
    zmq_context: trio_zmq.Context,
) -> None:
    pull = zmq_context.socket(zmq.PULL)
    target = pull.bind("tcp://127.0.0.1:*")
    push = zmq_context.socket(zmq.PUSH)
    big = [bytes([n]) * (4 * MiB) for n in range(3)]
    after = [b"after", b"the cut"]
    # 2 MB/s: the 12 MiB message needs six seconds, the cut comes after 1 MiB.
    async with open_link(target, rate=2_000_000) as link:
        push.connect(link.endpoint)
        await push.send_multipart(big)
        while link.statistics().bytes_forward < 1 * MiB:
            await trio.sleep(0.01)
        link.cut()
        at_cut = link.statistics()
        assert 1 * MiB <= at_cut.bytes_forward < 12 * MiB  # in the middle of the message
        assert at_cut.connections_open == 0

        link.rate = None
        await push.send_multipart(after)  # goes once the peer has reconnected
        received = [await pull.recv_multipart()]
        while received[-1] != after:
            received.append(await pull.recv_multipart())
        # Whole messages only: the cut one whole (libzmq drops it instead), then the next.
        assert all(message == big for message in received[:-1])
        assert link.statistics().connections_accepted >= 2  # the cable took new connections


async def test_a_cut_resets_the_connections_at_once_on_both_sides(
    zmq_context: trio_zmq.Context,
) -> None:
    async with _watched_ends(zmq_context) as ends, open_link(ends.target) as link:
        await ends.connect_through(link)
        link.cut()
        assert link.statistics().connections_open == 0
        await ends.both_disconnected()
        await _round_trip(ends.client, ends.server, b"again")  # through a new connection


# ----------------------------------------------------------------------
# Latency and rate


async def test_latency_raises_a_round_trip_by_at_least_twice_the_latency(
    zmq_context: trio_zmq.Context,
) -> None:
    latency = 0.05
    rep = zmq_context.socket(zmq.REP)
    target = rep.bind("tcp://127.0.0.1:*")
    req = zmq_context.socket(zmq.REQ)
    async with open_link(target) as link:
        req.connect(link.endpoint)
        await _timed_req_rep(req, rep)  # connected
        plain: list[float] = []
        delayed: list[float] = []
        for _ in range(6):  # interleaved, so that a busy moment of the machine hits both
            link.latency = 0
            plain.append(await _timed_req_rep(req, rep))
            link.latency = latency
            delayed.append(await _timed_req_rep(req, rep))
    # Every delayed round trip carries the latency each way, by construction...
    assert min(delayed) >= 2 * latency
    # ... on top of what the round trip costs without it (the fastest of
    # each, with a margin for the machine's noise).
    assert min(delayed) - min(plain) >= 2 * latency * 0.9


async def test_a_rate_paces_a_stream_to_within_twenty_percent(
    zmq_context: trio_zmq.Context,
) -> None:
    rate = 2_000_000
    pull = zmq_context.socket(zmq.PULL)
    target = pull.bind("tcp://127.0.0.1:*")
    push = zmq_context.socket(zmq.PUSH)
    payload = b"r" * 8192

    async def flood() -> None:
        while True:
            await push.send(payload)

    async with open_link(target, rate=rate) as link, trio.open_nursery() as nursery:
        push.connect(link.endpoint)
        nursery.start_soon(flood)
        await pull.recv()
        started = trio.current_time()
        received = 0
        while received < rate:  # about a second's worth
            received += len(await pull.recv())
        elapsed = trio.current_time() - started
        nursery.cancel_scope.cancel()
    assert 0.8 * rate <= received / elapsed <= 1.2 * rate


# ----------------------------------------------------------------------
# Security, and the block's lifetime


async def test_curve_works_through_a_link(zmq_context: trio_zmq.Context) -> None:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    rep = zmq_context.socket(
        zmq.REP, curve_server=True, curve_secretkey=server_secret, curve_publickey=server_public
    )
    target = rep.bind("tcp://127.0.0.1:*")
    req = zmq_context.socket(
        zmq.REQ,
        curve_serverkey=server_public,
        curve_publickey=client_public,
        curve_secretkey=client_secret,
    )
    async with open_link(target) as link, trio_zmq.open_monitor(req) as events:
        req.connect(link.endpoint)
        await _until(events, zmq.Event.HANDSHAKE_SUCCEEDED)
        await req.send(b"sealed")
        assert await rep.recv() == b"sealed"
        await rep.send(b"opened")
        assert await req.recv() == b"opened"
        stats = link.statistics()
    assert req.get(zmq.MECHANISM) == zmq.CURVE
    assert stats.bytes_forward > len(b"sealed")
    assert stats.bytes_back > len(b"opened")


async def test_leaving_the_block_closes_every_connection_and_ends_every_relay_task(
    zmq_context: trio_zmq.Context,
) -> None:
    async with _watched_ends(zmq_context) as ends:
        with trio.CancelScope() as leaving:
            async with open_link(ends.target) as link:
                await ends.connect_through(link)
                assert link.statistics().connections_open == 1
                assert len(_relay_tasks()) >= 5  # listener, handler, two readers, two writers
                leaving.deadline = trio.current_time() + 5  # leaving needs no waiting
        assert not leaving.cancelled_caught
        assert _relay_tasks() == []
        assert link.statistics().connections_open == 0
        await ends.both_disconnected()
        with pytest.raises(OSError):  # the listener is closed too
            await trio.open_tcp_stream("127.0.0.1", _port(link.endpoint))


async def test_an_error_in_the_block_comes_out_as_itself() -> None:
    with pytest.raises(KeyError, match="from the block"):
        async with open_link("tcp://127.0.0.1:9"):
            raise KeyError("from the block")
    assert _relay_tasks() == []


async def test_a_fault_in_the_relay_ends_the_block_and_comes_out_as_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect = trio.open_tcp_stream

    async def faulty(*args: object, **kwargs: object) -> trio.SocketStream:
        raise RuntimeError("a fault in the relay")

    monkeypatch.setattr(trio, "open_tcp_stream", faulty)
    with pytest.raises(RuntimeError, match="a fault in the relay"):
        async with (
            open_link("tcp://127.0.0.1:9") as link,
            await connect("127.0.0.1", _port(link.endpoint)),
        ):
            await trio.sleep_forever()
    assert _relay_tasks() == []


async def test_an_end_of_stream_passes_through_after_the_bytes_before_it() -> None:
    async def reverse(stream: trio.SocketStream) -> None:
        received = b""
        while data := await stream.receive_some():
            received += data
        await stream.send_all(received[::-1])
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, host="127.0.0.1")
        listeners: list[trio.SocketListener] = await nursery.start(serve, reverse, 0)
        port = listeners[0].socket.getsockname()[1]
        async with open_link(f"tcp://127.0.0.1:{port}", latency=0.01) as link:
            async with await trio.open_tcp_stream("127.0.0.1", _port(link.endpoint)) as stream:
                await stream.send_all(b"abc")
                await stream.send_eof()  # the peer answers only after it
                reply = b""
                while data := await stream.receive_some():
                    reply += data
            assert reply == b"cba"
            while link.statistics().connections_open:
                await trio.sleep(0.01)
            stats = link.statistics()
        nursery.cancel_scope.cancel()
    assert (stats.bytes_forward, stats.bytes_back, stats.connections_accepted) == (3, 3, 1)


async def test_a_target_nobody_listens_on_resets_the_accepted_connection() -> None:
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody will listen on it
    async with open_link(f"tcp://127.0.0.1:{port}") as link:
        async with await trio.open_tcp_stream("127.0.0.1", _port(link.endpoint)) as stream:
            with pytest.raises(trio.BrokenResourceError):
                await stream.receive_some()
        stats = link.statistics()
    assert (stats.connections_accepted, stats.connections_open) == (1, 0)


# ----------------------------------------------------------------------
# What a test reads and sets


async def test_a_new_link_reports_its_endpoints_and_settings() -> None:
    async with open_link("tcp://127.0.0.1:9", latency=0.25, rate=1000) as link:
        assert isinstance(link, Link)
        assert link.endpoint.startswith("tcp://127.0.0.1:")
        assert _port(link.endpoint) > 0
        assert link.target == "tcp://127.0.0.1:9"
        assert (link.latency, link.rate, link.partitioned) == (0.25, 1000.0, False)
        assert link.statistics() == LinkStatistics(
            connections_open=0,
            connections_accepted=0,
            bytes_forward=0,
            bytes_back=0,
            partitioned=False,
        )
        link.partition()
        assert link.partitioned
        assert link.statistics().partitioned
        link.heal()
        link.rate = None
        link.latency = 0
        assert (link.latency, link.rate, link.partitioned) == (0.0, None, False)
        assert "tcp://127.0.0.1:9" in repr(link)


def test_links_come_only_from_open_link() -> None:
    with pytest.raises(TypeError, match="open_link"):
        Link()


@pytest.mark.parametrize(
    ("endpoint", "error", "hint"),
    [
        (5555, TypeError, "tcp://127.0.0.1:5555"),
        ("ipc:///tmp/x", ValueError, "bind the real peer to 'tcp://127.0.0.1:\\*'"),
        ("inproc://x", ValueError, "needs a tcp:// endpoint"),
        ("127.0.0.1:5555", ValueError, "needs a tcp:// endpoint"),
        ("tcp://127.0.0.1:*", ValueError, "the endpoint bind\\(\\) returns"),
        ("tcp://*:5555", ValueError, "its host and port"),
        ("tcp://127.0.0.1", ValueError, "its host and port"),
        ("tcp://127.0.0.1:0", ValueError, "the port the real peer is bound to"),
        ("tcp://127.0.0.1:70000", ValueError, "the port the real peer is bound to"),
        ("tcp://127.0.0.1:1;127.0.0.1:5555", ValueError, "drop the source address"),
    ],
)
def test_a_bad_endpoint_is_refused_at_once_with_what_to_pass(
    endpoint: object, error: type[Exception], hint: str
) -> None:
    with pytest.raises(error, match=hint):
        open_link(endpoint)  # type: ignore[arg-type]


def test_an_ipv6_endpoint_is_accepted() -> None:
    assert open_link("tcp://[::1]:5555") is not None


@pytest.mark.parametrize(
    ("name", "value", "error", "hint"),
    [
        ("latency", -0.1, ValueError, "latency must be .* >= 0"),
        ("latency", float("nan"), ValueError, "latency must be"),
        ("latency", "0.1", TypeError, "latency is a number of seconds"),
        ("latency", True, TypeError, "latency is a number of seconds"),
        ("rate", 0, ValueError, "rate must be .* > 0.* set it to None for no limit"),
        ("rate", -5, ValueError, "rate must be"),
        ("rate", float("inf"), ValueError, "rate must be"),
        ("rate", "fast", TypeError, "rate is a number of bytes per second, or None"),
    ],
)
async def test_a_bad_latency_or_rate_is_refused_with_what_to_do(
    name: str, value: object, error: type[Exception], hint: str
) -> None:
    with pytest.raises(error, match=hint):
        open_link("tcp://127.0.0.1:9", **{name: value})  # type: ignore[arg-type]
    async with open_link("tcp://127.0.0.1:9", latency=0.5, rate=100) as link:
        with pytest.raises(error, match=hint):
            setattr(link, name, value)
        assert (link.latency, link.rate) == (0.5, 100)
