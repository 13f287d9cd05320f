"""Proxies and devices as supervised tasks, on both engines."""

from __future__ import annotations

import errno
import struct
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._engines import Engine, build_engine
from trio_zmq._engines.libzmq import parse_statistics
from trio_zmq._engines.native import NativeEngine
from trio_zmq._engines.sides import SideCounter

from .helpers import inproc_name

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

EngineName = Literal["native", "libzmq"]
ENGINES: list[EngineName] = ["native", "libzmq"]


def _frames_counted(engine: EngineName, frames: int) -> int:
    """What ``messages_in``/``messages_out`` say for one message of *frames* frames.

    libzmq before 4.3.5 counts a multipart message once in its proxy's
    STATISTICS; the native engine and newer libzmq count every frame.
    """
    if engine == "libzmq" and zmq.zmq_version_info() < (4, 3, 5):
        return 1
    return frames


def _queue(
    ctx: trio_zmq.Context,
) -> tuple[trio_zmq.Socket, trio_zmq.Socket, trio_zmq.Socket, trio_zmq.Socket]:
    """A ROUTER frontend and a DEALER backend, a REQ client and a REP worker."""
    frontend = ctx.socket(zmq.ROUTER)
    backend = ctx.socket(zmq.DEALER)
    client = ctx.socket(zmq.REQ, routing_id=b"client")
    worker = ctx.socket(zmq.REP)
    client.connect(frontend.bind(inproc_name("front")))
    worker.connect(backend.bind(inproc_name("back")))
    return frontend, backend, client, worker


async def _round_trip(client: trio_zmq.Socket, worker: trio_zmq.Socket, text: bytes) -> bytes:
    await client.send(text)
    request = await worker.recv()
    await worker.send(request.upper())
    return await client.recv()


async def _absent(sock: trio_zmq.Socket, engine: EngineName) -> bool:
    """Whether nothing arrives on *sock*: checked exactly on the native engine.

    The native engine runs in this run, so once every task is blocked a
    forwarded message would be there. libzmq's thread can only be given a
    while: a slow machine can make this pass wrongly, never fail wrongly.
    """
    if engine == "native":
        await trio.testing.wait_all_tasks_blocked()
        try:
            await sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return True
        return False
    with trio.move_on_after(0.2):
        await sock.recv()
        return False
    return True


# ----------------------------------------------------------------------
# Forwarding


@pytest.mark.parametrize("engine", ENGINES)
async def test_request_reply_round_trip_through_a_queue_proxy(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine=engine))
        for i in range(5):
            assert await _round_trip(client, worker, b"hello %d" % i) == b"HELLO %d" % i
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("engine", ENGINES)
async def test_request_reply_round_trip_through_a_steerable_proxy(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        control = await nursery.start(
            partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
        )
        assert control.engine == engine
        assert await _round_trip(client, worker, b"ping") == b"PING"
        control.stop()


@pytest.mark.parametrize("engine", ENGINES)
async def test_capture_gets_a_copy_of_every_forwarded_message(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    capture = ctx.socket(zmq.PUSH)
    tap = ctx.socket(zmq.PULL)
    tap.connect(capture.bind(inproc_name("capture")))
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio_zmq.proxy, frontend, backend, capture, engine=engine))
        assert await _round_trip(client, worker, b"hi") == b"HI"
        assert await tap.recv_multipart() == [b"client", b"", b"hi"]
        assert await tap.recv_multipart() == [b"client", b"", b"HI"]
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_streamer_device_forwards_a_pipeline(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    source = ctx.socket(zmq.PUSH)
    sink = ctx.socket(zmq.PULL)
    source.connect(frontend.bind(inproc_name()))
    sink.connect(backend.bind(inproc_name()))
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(trio_zmq.device, zmq.STREAMER, frontend, backend, engine=engine)
        )
        for i in range(20):
            await source.send_multipart([b"task", b"%d" % i])
        assert [await sink.recv_multipart() for _ in range(20)] == [
            [b"task", b"%d" % i] for i in range(20)
        ]
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_forwarder_passes_subscriptions_upstream(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    publisher = ctx.socket(zmq.XPUB)  # an XPUB, to see the subscription arrive
    frontend = ctx.socket(zmq.XSUB)
    backend = ctx.socket(zmq.XPUB)
    subscriber = ctx.socket(zmq.SUB)
    frontend.connect(publisher.bind(inproc_name("pub")))
    subscriber.connect(backend.bind(inproc_name("xpub")))
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(trio_zmq.device, zmq.FORWARDER, frontend, backend, engine=engine)
        )
        subscriber.subscribe(b"news")
        assert await publisher.recv() == b"\x01news"
        await publisher.send(b"sports: 1-0")
        await publisher.send(b"news: calm")
        assert await subscriber.recv() == b"news: calm"
        nursery.cancel_scope.cancel()


# ----------------------------------------------------------------------
# Steering


@pytest.mark.parametrize("engine", ENGINES)
async def test_statistics_count_frames_and_bytes_on_each_side(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        control = await nursery.start(
            partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
        )
        assert control.statistics() == trio_zmq.ProxyStatistics()
        assert await _round_trip(client, worker, b"hello") == b"HELLO"
        stats = control.statistics()
        # Like libzmq's STATISTICS, frames count one by one: identity,
        # delimiter and body, 6 + 0 + 5 bytes, each way.
        n = _frames_counted(engine, 3)
        side = trio_zmq.ProxySideStatistics(
            messages_in=n, bytes_in=11, messages_out=n, bytes_out=11
        )
        assert stats == trio_zmq.ProxyStatistics(frontend=side, backend=side)
        with pytest.raises(AttributeError):
            stats.frontend = side
        control.stop()


@pytest.mark.parametrize("engine", ENGINES)
async def test_statistics_after_stop_are_the_final_counts(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        control = await nursery.start(
            partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
        )
        await _round_trip(client, worker, b"one")
        await _round_trip(client, worker, b"two")
        control.stop()
    assert control.stopped
    stats = control.statistics()
    assert stats.frontend.messages_in == 2 * _frames_counted(engine, 3)
    assert stats.backend.messages_out == 2 * _frames_counted(engine, 3)


@pytest.mark.parametrize("engine", ENGINES)
async def test_pause_holds_messages_until_resume(ctx: trio_zmq.Context, engine: EngineName) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        control = await nursery.start(
            partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
        )
        control.pause()
        assert control.paused
        control.statistics()  # the libzmq thread has read PAUSE before this reply
        await client.send(b"held")
        assert await _absent(worker, engine)
        control.resume()
        assert not control.paused
        assert await worker.recv() == b"held"
        await worker.send(b"released")
        assert await client.recv() == b"released"
        control.stop()


@pytest.mark.parametrize("engine", ENGINES)
async def test_stop_makes_the_task_return_and_leaves_the_sockets_open(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            control = await nursery.start(
                partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
            )
            control.stop()
            control.stop()  # twice is fine
    assert not nursery.cancel_scope.cancelled_caught
    assert control.stopped
    control.pause()  # does nothing once stopped
    assert not frontend.closed
    assert not backend.closed
    # The caller has its sockets back: a round trip without the proxy works.
    await client.send(b"direct")
    peer, empty, body = await frontend.recv_multipart()
    assert (peer, empty, body) == (b"client", b"", b"direct")


# ----------------------------------------------------------------------
# Cancellation


@pytest.mark.parametrize("engine", ENGINES)
async def test_cancellation_returns_promptly_and_leaves_the_sockets_open(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine=engine))
        await _round_trip(client, worker, b"before")
        nursery.cancel_scope.cancel()
        cancelled_at = trio.current_time()
    assert trio.current_time() - cancelled_at < 1  # the bound; it takes milliseconds
    assert not frontend.closed
    assert not backend.closed
    assert frontend.get(zmq.TYPE) == zmq.ROUTER  # not lent any more


@pytest.mark.parametrize("engine", ENGINES)
async def test_cancellation_returns_promptly_while_the_backend_has_no_peer(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend = ctx.socket(zmq.ROUTER)
    backend = ctx.socket(zmq.DEALER)  # nobody connects: it can never send
    client = ctx.socket(zmq.DEALER)
    client.connect(frontend.bind(inproc_name()))
    backend.bind(inproc_name())
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine=engine))
        for i in range(10):
            await client.send(b"%d" % i)
        if engine == "native":
            await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
        cancelled_at = trio.current_time()
    assert trio.current_time() - cancelled_at < 1
    # Nothing was taken and lost: every request still waits on the frontend.
    received = [await frontend.recv_multipart() for _ in range(10)]
    assert [body for _, body in received] == [b"%d" % i for i in range(10)]


async def test_a_message_taken_before_cancellation_is_still_delivered(
    ctx: trio_zmq.Context,
) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    source = ctx.socket(zmq.PUSH)
    sink = ctx.socket(zmq.PULL)
    source.connect(frontend.bind(inproc_name()))
    sink.connect(backend.bind(inproc_name()))
    async with trio.open_nursery() as nursery:

        def cancel_while_holding(side: str, frames: list[bytes]) -> list[bytes]:
            nursery.cancel_scope.cancel()  # the proxy holds *frames* right now
            return frames

        await nursery.start(partial(trio_zmq.proxy, frontend, backend, hook=cancel_while_holding))
        await source.send(b"in flight")
    assert await sink.recv() == b"in flight"


# ----------------------------------------------------------------------
# Errors


async def test_closing_a_socket_fails_the_native_proxy_into_its_nursery(
    ctx: trio_zmq.Context,
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    with pytest.RaisesGroup(trio.ClosedResourceError):
        async with trio.open_nursery() as nursery:
            await nursery.start(trio_zmq.proxy, frontend, backend)
            await trio.testing.wait_all_tasks_blocked()
            backend.close()


async def test_the_libzmq_engine_refuses_a_closed_socket(ctx: trio_zmq.Context) -> None:
    frontend, backend, client, worker = _queue(ctx)
    backend.close()
    async with trio.open_nursery() as nursery:
        with pytest.raises(trio.ClosedResourceError):
            await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine="libzmq"))
    assert frontend.get(zmq.TYPE) == zmq.ROUTER  # given back


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_socket_error_inside_the_proxy_propagates_to_the_nursery(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend = ctx.socket(zmq.ROUTER, router_mandatory=1)
    backend = ctx.socket(zmq.DEALER)
    client = ctx.socket(zmq.DEALER)
    worker = ctx.socket(zmq.DEALER)
    client.connect(frontend.bind(inproc_name()))
    worker.connect(backend.bind(inproc_name()))
    with pytest.RaisesGroup(
        pytest.RaisesExc(zmq.ZMQError, check=lambda exc: exc.errno == errno.EHOSTUNREACH)
    ):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine=engine))
            await client.send(b"hello")  # so that the frontend has a peer
            await worker.recv_multipart()
            await worker.send_multipart([b"nobody", b"reply"])  # unroutable
            await trio.sleep_forever()


async def test_a_hook_that_raises_fails_the_proxy(ctx: trio_zmq.Context) -> None:
    frontend, backend, client, worker = _queue(ctx)

    def broken(side: str, frames: list[bytes]) -> list[bytes]:
        raise RuntimeError("hook failed")

    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="hook failed")):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio_zmq.proxy, frontend, backend, hook=broken))
            await client.send(b"x")
            await trio.sleep_forever()


@pytest.mark.parametrize("proxy", [trio_zmq.proxy, trio_zmq.steerable_proxy])
async def test_using_a_socket_while_the_libzmq_engine_holds_it_is_busy(
    ctx: trio_zmq.Context, proxy: Any
) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(proxy, frontend, backend, engine="libzmq"))
        with pytest.raises(trio.BusyResourceError, match="libzmq proxy thread"):
            await frontend.send_multipart([b"client", b"", b"x"])
        with pytest.raises(trio.BusyResourceError):
            await backend.recv()
        with pytest.raises(trio.BusyResourceError):
            backend.recv_multipart_nowait()
        with pytest.raises(trio.BusyResourceError):
            frontend.linger = 5
        with pytest.raises(trio.BusyResourceError):
            frontend.close()
        assert await _round_trip(client, worker, b"still forwarding") == b"STILL FORWARDING"
        nursery.cancel_scope.cancel()
    frontend.linger = 0  # usable again once the proxy returned


# ----------------------------------------------------------------------
# Hooks


async def test_a_hook_transforms_and_filters_messages(ctx: trio_zmq.Context) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    source = ctx.socket(zmq.PUSH)
    sink = ctx.socket(zmq.PULL)
    source.connect(frontend.bind(inproc_name()))
    sink.connect(backend.bind(inproc_name()))
    seen: list[tuple[str, list[bytes]]] = []

    def shout_unless_secret(side: str, frames: list[bytes]) -> Sequence[bytes] | None:
        seen.append((side, frames))
        if frames[0] == b"secret":
            return None
        return [frame.upper() for frame in frames]

    async with trio.open_nursery() as nursery:
        control = await nursery.start(
            partial(trio_zmq.steerable_proxy, frontend, backend, hook=shout_unless_secret)
        )
        for body in (b"a", b"secret", b"b"):
            await source.send(body)
        assert await sink.recv() == b"A"
        assert await sink.recv() == b"B"
        stats = control.statistics()
        control.stop()
    assert seen == [("frontend", [b"a"]), ("frontend", [b"secret"]), ("frontend", [b"b"])]
    assert stats.frontend.messages_in == 3
    assert stats.backend.messages_out == 2


async def test_a_hook_needs_the_native_engine(ctx: trio_zmq.Context) -> None:
    frontend, backend, client, worker = _queue(ctx)
    with pytest.raises(ValueError, match="native"):
        await trio_zmq.proxy(frontend, backend, engine="libzmq", hook=lambda side, msg: msg)


async def test_an_unknown_engine_is_refused(ctx: trio_zmq.Context) -> None:
    frontend, backend, client, worker = _queue(ctx)
    with pytest.raises(ValueError, match="engine"):
        await trio_zmq.proxy(frontend, backend, engine="fast")  # type: ignore[arg-type]


async def test_sockets_that_cannot_forward_either_way_are_refused(
    ctx: trio_zmq.Context,
) -> None:
    with pytest.raises(ValueError, match="either direction"):
        await trio_zmq.proxy(ctx.socket(zmq.PUB), ctx.socket(zmq.PUB))
    with pytest.raises(ValueError, match="capture"):
        await trio_zmq.proxy(ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH), ctx.socket(zmq.SUB))


# ----------------------------------------------------------------------
# Device type checks


@pytest.mark.parametrize(
    ("kind", "front_type", "back_type"),
    [
        (zmq.QUEUE, zmq.DEALER, zmq.DEALER),
        (zmq.QUEUE, zmq.DEALER, zmq.ROUTER),
        (zmq.FORWARDER, zmq.PUB, zmq.SUB),
        (zmq.FORWARDER, zmq.XPUB, zmq.XSUB),
        (zmq.FORWARDER, zmq.PULL, zmq.PUB),
        (zmq.STREAMER, zmq.PUSH, zmq.PULL),
        (zmq.STREAMER, zmq.ROUTER, zmq.DEALER),
    ],
)
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_device_refuses_socket_types_that_do_not_fit(
    ctx: trio_zmq.Context, kind: int, front_type: int, back_type: int, engine: EngineName
) -> None:
    frontend = ctx.socket(front_type)
    backend = ctx.socket(back_type)
    with pytest.raises(ValueError, match="device needs") as info:
        await trio_zmq.device(kind, frontend, backend, engine=engine)
    message = str(info.value)
    assert zmq.SocketType(front_type).name in message
    assert zmq.SocketType(back_type).name in message
    assert frontend.get(zmq.TYPE) == front_type  # checked before anything was lent


async def test_a_device_refuses_an_unknown_kind(ctx: trio_zmq.Context) -> None:
    with pytest.raises(ValueError, match="zmq.QUEUE, zmq.FORWARDER or zmq.STREAMER"):
        await trio_zmq.device(42, ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER))


async def test_a_queue_device_brokers_requests(ctx: trio_zmq.Context) -> None:
    frontend, backend, client, worker = _queue(ctx)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_zmq.device, zmq.QUEUE, frontend, backend)
        assert await _round_trip(client, worker, b"queued") == b"QUEUED"
        nursery.cancel_scope.cancel()


async def test_control_objects_come_only_from_steerable_proxy() -> None:
    with pytest.raises(TypeError, match="steerable_proxy"):
        trio_zmq.ProxyControl()


# ----------------------------------------------------------------------
# The narrow race: a message held while the destination lost its room


def _native_engine(ctx: trio_zmq.Context) -> tuple[NativeEngine, trio_zmq.Socket]:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)  # no peer: a send would wait
    backend.bind(inproc_name("stalled"))
    return NativeEngine(frontend, backend, None, None), backend


async def test_a_cancelled_held_message_goes_out_if_the_last_attempt_finds_room(
    ctx: trio_zmq.Context,
) -> None:
    engine, backend = _native_engine(ctx)
    sink = ctx.socket(zmq.PULL)
    scope = trio.CancelScope()

    async def hold() -> None:
        with scope:
            await engine._put(backend, [b"held"], "frontend", "backend")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hold)
        await trio.testing.wait_all_tasks_blocked()
        # In one step, without a checkpoint between: room appears (libzmq
        # attaches the new pipe at the next call on the backend) and the
        # waiting send is cancelled. Only the last, non-blocking attempt can
        # deliver the message now.
        sink.connect(backend.get_string(zmq.LAST_ENDPOINT))
        scope.cancel()
    assert scope.cancelled_caught  # the cancellation went on after the delivery
    assert await sink.recv() == b"held"


async def test_a_cancelled_held_message_without_room_fails_loudly_at_once(
    ctx: trio_zmq.Context, autojump_clock: trio.testing.MockClock
) -> None:
    engine, backend = _native_engine(ctx)
    with pytest.RaisesGroup(
        pytest.RaisesExc(
            trio.BrokenResourceError,
            match="taken from the frontend.*no room.*dropped",
            check=lambda exc: isinstance(exc.__cause__, trio.Cancelled),
        )
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine._put, backend, [b"held"], "frontend", "backend")
            await trio.testing.wait_all_tasks_blocked()
            cancelled_at = trio.current_time()
            nursery.cancel_scope.cancel()
    # Nothing waited past the cancellation (the autojump clock would have
    # moved for any wait, shielded or not).
    assert trio.current_time() == cancelled_at


# ----------------------------------------------------------------------
# A close of any socket the proxy owns ends it, whichever one it sleeps on


def _router_dealer_without_peers(
    ctx: trio_zmq.Context,
) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    """A ROUTER frontend and a DEALER backend, nobody connected to either.

    A native proxy's two pumps both sleep on the backend: one waits for room
    on it (a DEALER with no peer has none), the other for a message from it.
    """
    frontend = ctx.socket(zmq.ROUTER)
    backend = ctx.socket(zmq.DEALER)
    frontend.bind(inproc_name("front"))
    backend.bind(inproc_name("back"))
    return frontend, backend


_ENTRY_POINTS: dict[str, Callable[..., Awaitable[None]]] = {
    "proxy": trio_zmq.proxy,
    "steerable_proxy": trio_zmq.steerable_proxy,
    "device": partial(trio_zmq.device, zmq.QUEUE),
}


@pytest.mark.parametrize("entry", list(_ENTRY_POINTS))
async def test_closing_the_frontend_ends_a_proxy_asleep_on_the_backend(
    ctx: trio_zmq.Context, entry: str
) -> None:
    frontend, backend = _router_dealer_without_peers(ctx)
    with trio.fail_after(5), pytest.RaisesGroup(trio.ClosedResourceError):
        async with trio.open_nursery() as nursery:
            await nursery.start(_ENTRY_POINTS[entry], frontend, backend)
            await trio.testing.wait_all_tasks_blocked()
            frontend.close()
    assert not backend.closed


async def test_closing_the_backend_ends_a_proxy_asleep_on_the_backend(
    ctx: trio_zmq.Context,
) -> None:
    frontend, backend = _router_dealer_without_peers(ctx)
    with trio.fail_after(5), pytest.RaisesGroup(trio.ClosedResourceError):
        async with trio.open_nursery() as nursery:
            await nursery.start(trio_zmq.proxy, frontend, backend)
            await trio.testing.wait_all_tasks_blocked()
            backend.close()


async def test_closing_the_capture_socket_ends_the_proxy(ctx: trio_zmq.Context) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    capture = ctx.socket(zmq.PUSH)
    sink = ctx.socket(zmq.PULL)
    tap = ctx.socket(zmq.PULL)
    frontend.bind(inproc_name("front"))
    sink.connect(backend.bind(inproc_name("back")))
    tap.connect(capture.bind(inproc_name("capture")))
    with trio.fail_after(5), pytest.RaisesGroup(trio.ClosedResourceError):
        async with trio.open_nursery() as nursery:
            await nursery.start(trio_zmq.proxy, frontend, backend, capture)
            await trio.testing.wait_all_tasks_blocked()  # the pump sleeps on the frontend
            capture.close()
    assert not frontend.closed
    assert not backend.closed


async def test_closing_a_socket_ends_a_paused_steerable_proxy(ctx: trio_zmq.Context) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    frontend.bind(inproc_name("front"))
    backend.bind(inproc_name("back"))
    with trio.fail_after(5), pytest.RaisesGroup(trio.ClosedResourceError):
        async with trio.open_nursery() as nursery:
            control = await nursery.start(trio_zmq.steerable_proxy, frontend, backend)
            control.pause()
            await trio.testing.wait_all_tasks_blocked()  # the pump waits for resume()
            backend.close()
    assert control.stopped


async def test_a_close_ends_the_proxy_with_one_error_that_names_the_socket(
    ctx: trio_zmq.Context,
) -> None:
    frontend, backend = _router_dealer_without_peers(ctx)
    # One error in the nursery's group, not a group of its own.
    with (
        trio.fail_after(5),
        pytest.RaisesGroup(
            pytest.RaisesExc(trio.ClosedResourceError, match="the proxy's frontend socket")
        ),
    ):
        async with trio.open_nursery() as nursery:
            await nursery.start(trio_zmq.proxy, frontend, backend)
            await trio.testing.wait_all_tasks_blocked()
            frontend.close()


# ----------------------------------------------------------------------
# The seams between the entry points and the engines


def test_build_engine_refuses_an_unknown_engine_before_looking_at_the_sockets() -> None:
    not_sockets: Any = object()
    with pytest.raises(ValueError, match="engine must be 'native' or 'libzmq', not 'fast'"):
        build_engine("fast", not_sockets, not_sockets, None, None)


def test_build_engine_refuses_a_hook_with_the_libzmq_engine_before_looking_at_the_sockets() -> None:
    not_sockets: Any = object()
    with pytest.raises(ValueError, match="hook needs engine='native'"):
        build_engine("libzmq", not_sockets, not_sockets, None, lambda side, msg: msg)


@pytest.mark.parametrize("engine", ENGINES)
async def test_build_engine_checks_the_sockets_before_it_builds(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    raw = ctx.underlying.socket(zmq.PUSH)
    try:
        with pytest.raises(TypeError, match="backend must be a trio_zmq.Socket.*from_socket"):
            build_engine(engine, ctx.socket(zmq.PULL), raw, None, None)
    finally:
        raw.close(linger=0)
    with pytest.raises(ValueError, match="either direction"):
        build_engine(engine, ctx.socket(zmq.PUB), ctx.socket(zmq.PUB), None, None)


async def test_build_engine_gives_a_native_engine_that_has_not_run(
    ctx: trio_zmq.Context,
) -> None:
    engine: Engine = build_engine("native", ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH), None, None)
    assert isinstance(engine, NativeEngine)
    assert (engine.engine, engine.paused, engine.done) == ("native", False, False)
    assert engine.statistics() == trio_zmq.ProxyStatistics()


def test_a_side_counter_snapshot_is_frozen_and_named() -> None:
    counter = SideCounter()
    counter.messages_in += 3
    counter.bytes_in += 11
    counter.messages_out += 2
    counter.bytes_out += 7
    snapshot = counter.snapshot()
    assert snapshot == trio_zmq.ProxySideStatistics(
        messages_in=3, bytes_in=11, messages_out=2, bytes_out=7
    )
    counter.messages_in += 1
    assert snapshot.messages_in == 3  # later counts do not reach a snapshot
    assert counter.snapshot().messages_in == 4


@pytest.mark.parametrize("engine", ENGINES)
async def test_statistics_count_in_on_the_source_side_and_out_on_the_other(
    ctx: trio_zmq.Context, engine: EngineName
) -> None:
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.PUSH)
    source = ctx.socket(zmq.PUSH)
    sink = ctx.socket(zmq.PULL)
    source.connect(frontend.bind(inproc_name()))
    sink.connect(backend.bind(inproc_name()))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            control = await nursery.start(
                partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
            )
            await source.send_multipart([b"ab", b"cde"])
            assert await sink.recv_multipart() == [b"ab", b"cde"]
            stats = control.statistics()
            control.stop()
    n = _frames_counted(engine, 2)
    assert stats == trio_zmq.ProxyStatistics(
        frontend=trio_zmq.ProxySideStatistics(messages_in=n, bytes_in=5),
        backend=trio_zmq.ProxySideStatistics(messages_out=n, bytes_out=5),
    )


def test_libzmqs_statistics_reply_is_read_into_named_counts() -> None:
    # libzmq's order: frontend in (messages, bytes), out; then the backend's.
    frames = [struct.pack("=Q", value) for value in (1, 2, 3, 4, 5, 6, 7, 8)]
    assert parse_statistics(frames) == trio_zmq.ProxyStatistics(
        frontend=trio_zmq.ProxySideStatistics(
            messages_in=1, bytes_in=2, messages_out=3, bytes_out=4
        ),
        backend=trio_zmq.ProxySideStatistics(
            messages_in=5, bytes_in=6, messages_out=7, bytes_out=8
        ),
    )


@pytest.mark.parametrize(
    "frames",
    [
        [b""],  # libzmq 4.3.5's answer to the other commands
        [struct.pack("=Q", 0)] * 7,
        [struct.pack("=I", 0)] * 8,
    ],
    ids=["empty", "seven-frames", "short-frames"],
)
def test_anything_but_a_statistics_reply_is_not_read_as_one(frames: list[bytes]) -> None:
    assert parse_statistics(frames) is None
