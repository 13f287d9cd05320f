"""open_monitor: a socket's connection events as typed values."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import inproc_name


async def _until(events: trio_zmq.MonitorEvents, wanted: zmq.Event) -> list[trio_zmq.MonitorEvent]:
    """Every event up to and including the first *wanted* one."""
    seen = []
    async for event in events:
        seen.append(event)
        if event.event == wanted:
            return seen
    raise AssertionError(f"the events ended before {wanted.name}: {seen}")


async def test_a_connecting_socket_reports_connected_then_handshake_succeeded(
    ctx: trio_zmq.Context,
) -> None:
    server = ctx.socket(zmq.ROUTER)
    endpoint = server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(client) as events:
        client.connect(endpoint)
        seen = await _until(events, zmq.Event.HANDSHAKE_SUCCEEDED)
    kinds = [event.event for event in seen]
    assert zmq.Event.CONNECTED in kinds
    assert kinds.index(zmq.Event.CONNECTED) < kinds.index(zmq.Event.HANDSHAKE_SUCCEEDED)
    for event in seen:
        assert isinstance(event.event, zmq.Event)
        assert isinstance(event.value, int)
        assert event.endpoint == endpoint


async def test_a_bound_socket_reports_listening_accepted_and_handshake(
    ctx: trio_zmq.Context,
) -> None:
    server = ctx.socket(zmq.ROUTER)
    client = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(server) as events:
        endpoint = server.bind("tcp://127.0.0.1:*")
        listening = await events.receive()
        assert listening.event == zmq.Event.LISTENING
        assert listening.endpoint == endpoint
        client.connect(endpoint)
        kinds = [event.event for event in await _until(events, zmq.Event.HANDSHAKE_SUCCEEDED)]
    assert zmq.Event.ACCEPTED in kinds


async def test_a_peer_going_away_is_reported_as_disconnected(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    endpoint = server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(client) as events:
        client.connect(endpoint)
        await _until(events, zmq.Event.HANDSHAKE_SUCCEEDED)
        server.close()
        disconnected = (await _until(events, zmq.Event.DISCONNECTED))[-1]
    assert disconnected.endpoint == endpoint


async def test_the_events_mask_selects_which_events_come(ctx: trio_zmq.Context) -> None:
    server = ctx.socket(zmq.ROUTER)
    endpoint = server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(client, events=zmq.EVENT_HANDSHAKE_SUCCEEDED) as events:
        client.connect(endpoint)
        first = await events.receive()
    assert first.event == zmq.Event.HANDSHAKE_SUCCEEDED


async def test_iteration_ends_when_the_monitored_socket_is_closed(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(sock) as events:
        endpoint = sock.bind("tcp://127.0.0.1:*")
        sock.close()
        seen = [event async for event in events]
        # What was queued before the close comes first; what libzmq's
        # threads report while they finish the close may or may not follow.
        assert (seen[0].event, seen[0].endpoint) == (zmq.Event.LISTENING, endpoint)
        with pytest.raises(trio.EndOfChannel):
            await events.receive()


async def _iterate_until_the_end(events: trio_zmq.MonitorEvents, ended: trio.Event) -> None:
    async for _ in events:
        pass
    ended.set()


async def test_closing_the_monitored_socket_ends_a_waiting_iteration_without_monitor_stopped(
    ctx: trio_zmq.Context,
) -> None:
    # EVENT_MONITOR_STOPPED is left out of the mask: libzmq never says the end.
    sock = ctx.socket(zmq.DEALER)
    ended = trio.Event()
    with trio.fail_after(5):
        async with (
            trio_zmq.open_monitor(
                sock, events=zmq.EVENT_ALL & ~zmq.EVENT_MONITOR_STOPPED
            ) as events,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(_iterate_until_the_end, events, ended)
            await trio.testing.wait_all_tasks_blocked()  # asleep on the monitor's socket
            sock.close()
            await ended.wait()


async def test_closing_the_monitored_socket_ends_the_iteration_despite_an_idle_inproc_peer(
    ctx: trio_zmq.Context,
) -> None:
    # With the default mask, libzmq sends EVENT_MONITOR_STOPPED only once it
    # has finished closing the socket, which waits for the idle peer to touch
    # its own socket: never, here.
    sock = ctx.socket(zmq.DEALER)
    peer = ctx.socket(zmq.DEALER)
    ended = trio.Event()
    with trio.fail_after(5):
        async with trio_zmq.open_monitor(sock) as events, trio.open_nursery() as nursery:
            peer.connect(sock.bind(inproc_name("monitored")))
            nursery.start_soon(_iterate_until_the_end, events, ended)
            await trio.testing.wait_all_tasks_blocked()
            sock.close()
            await ended.wait()
    assert not peer.closed


async def test_a_receive_after_the_monitored_socket_closed_ends_at_once(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.DEALER)
    with trio.fail_after(5):
        async with trio_zmq.open_monitor(sock, events=zmq.EVENT_ACCEPT_FAILED) as events:
            sock.close()
            with pytest.raises(trio.EndOfChannel):
                await events.receive()


async def test_leaving_the_block_ends_a_task_still_iterating(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    finished = trio.Event()

    async def drain(events: trio_zmq.MonitorEvents) -> None:
        async for _ in events:
            pass
        finished.set()

    async with trio.open_nursery() as nursery:
        async with trio_zmq.open_monitor(sock) as events:
            nursery.start_soon(drain, events)
            await trio.testing.wait_all_tasks_blocked()
        await finished.wait()


async def test_leaving_the_block_turns_the_monitor_off(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(sock):
        pass
    # A new monitor can be opened, and it sees new events.
    async with trio_zmq.open_monitor(sock) as events:
        endpoint = sock.bind("tcp://127.0.0.1:*")
        event = await events.receive()
    assert (event.event, event.endpoint) == (zmq.Event.LISTENING, endpoint)
    assert not sock.closed


async def test_a_second_monitor_on_one_socket_is_refused(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    async with trio_zmq.open_monitor(sock):
        with pytest.raises(trio.BusyResourceError, match="already has an open monitor"):
            async with trio_zmq.open_monitor(sock):
                pass  # pragma: no cover


async def test_monitoring_a_closed_socket_fails(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.DEALER)
    sock.close()
    with pytest.raises(trio.ClosedResourceError):
        async with trio_zmq.open_monitor(sock):
            pass  # pragma: no cover


async def test_monitoring_a_socket_lent_to_the_libzmq_proxy_is_busy(
    ctx: trio_zmq.Context,
) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(trio_zmq.steerable_proxy, frontend, backend, engine="libzmq")
        )
        with pytest.raises(trio.BusyResourceError):
            async with trio_zmq.open_monitor(frontend):
                pass  # pragma: no cover
        nursery.cancel_scope.cancel()


async def test_a_monitored_socket_can_be_lent_to_the_libzmq_proxy(
    ctx: trio_zmq.Context,
) -> None:
    # The monitor's close watcher does not count as a task using the socket.
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    async with trio_zmq.open_monitor(frontend), trio.open_nursery() as nursery:
        control = await nursery.start(
            functools.partial(trio_zmq.steerable_proxy, frontend, backend, engine="libzmq")
        )
        assert not control.stopped
        nursery.cancel_scope.cancel()


async def test_events_are_frozen_values(ctx: trio_zmq.Context) -> None:
    event = trio_zmq.MonitorEvent(zmq.Event.CONNECTED, 7, "tcp://127.0.0.1:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.value = 8  # type: ignore[misc]
    assert "CONNECTED" in repr(event)
    with pytest.raises(TypeError):
        trio_zmq.MonitorEvents()


UNREAD_EVENTS = """
import trio, zmq, trio_zmq

async def main():
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.PULL) as sock:
        async with trio_zmq.open_monitor(sock):
            for _ in range(1500):  # 3000 events, more than any default HWM
                sock.unbind(sock.bind("tcp://127.0.0.1:*"))
    print("done")

trio.run(main)
"""


def test_events_nobody_reads_never_block_the_watched_socket() -> None:
    # Regression: libzmq sends monitor events with a blocking send in the
    # thread using the socket; once the reader's pipe was full (or the reader
    # closed, when the block was left), a bind or the monitor's shutdown
    # waited for ever, which no Trio deadline can interrupt. Hence a process.
    done = subprocess.run(
        [sys.executable, "-c", UNREAD_EVENTS], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "done\n"), done.stderr
