"""A message arrives whole or not at all, and bad input fails before anything waits.

The peer "vanishes between two frames" deterministically, as in
``test_libzmq.py``: the sender disconnects its own end while the peer sits
idle, so libzmq refuses the next frame and cannot yet know why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
import trio_zmq._gate
import trio_zmq._socket

from .helpers import inproc_name

SENDERS = [
    pytest.param(zmq.PUSH, zmq.PULL, id="PUSH"),
    pytest.param(zmq.DEALER, zmq.ROUTER, id="DEALER"),
]


def _peer(ctx: trio_zmq.Context, kind: int) -> tuple[trio_zmq.Socket, str]:
    sock = ctx.socket(kind)
    return sock, sock.bind(inproc_name("whole"))


async def _vanished_mid_message(
    ctx: trio_zmq.Context, sender_type: int, peer_type: int
) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    """A sender whose first frame ``a`` went out before its peer vanished: (peer, sender).

    The sender disconnects its own end, so libzmq cannot yet know the peer is gone.
    """
    peer, endpoint = _peer(ctx, peer_type)
    sender = ctx.socket(sender_type)
    sender.connect(endpoint)
    await sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(endpoint)
    return peer, sender


def _body(sender_type: int, message: list[bytes]) -> list[bytes]:
    return message[1:] if sender_type == zmq.DEALER else message  # a ROUTER adds the identity


async def _received(sock: trio_zmq.Socket) -> list[list[bytes]]:
    messages = []
    while True:
        try:
            messages.append(await sock.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return messages


def _disconnecting_after_first_frame(
    monkeypatch: pytest.MonkeyPatch, sender: trio_zmq.Socket, endpoint: str
) -> None:
    """Make *sender*'s peer at *endpoint* vanish right after libzmq took a first frame."""
    real_send: Callable[..., Any] = trio_zmq._socket._send

    def send(sock: zmq.Socket[Any], data: Any, flags: int, *args: Any) -> Any:
        result = real_send(sock, data, flags, *args)
        if flags & zmq.SNDMORE and sock is sender.underlying:
            monkeypatch.setattr(trio_zmq._socket, "_send", real_send)
            sock.disconnect(endpoint)
        return result

    monkeypatch.setattr(trio_zmq._socket, "_send", send)


@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
async def test_a_message_whose_peer_vanishes_between_frames_is_dropped_whole(
    ctx: trio_zmq.Context, sender_type: int, peer_type: int
) -> None:
    first, first_endpoint = _peer(ctx, peer_type)
    sender = ctx.socket(sender_type)
    sender.connect(first_endpoint)
    await sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(first_endpoint)
    await sender.send(b"b", zmq.SNDMORE)  # returns: the message is dropped
    await sender.send(b"c")
    second, second_endpoint = _peer(ctx, peer_type)
    sender.connect(second_endpoint)
    await sender.send_multipart([b"x", b"y"])
    assert _body(sender_type, await second.recv_multipart()) == [b"x", b"y"]
    assert await _received(second) == []
    assert await _received(first) == []


@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
async def test_a_last_frame_refused_after_the_peer_vanished_never_goes_out_alone(
    ctx: trio_zmq.Context, sender_type: int, peer_type: int
) -> None:
    first, first_endpoint = _peer(ctx, peer_type)
    second, second_endpoint = _peer(ctx, peer_type)
    sender = ctx.socket(sender_type)
    sender.connect(first_endpoint)
    await sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(first_endpoint)
    sender.connect(second_endpoint)  # another peer is there for a fragment to reach
    await sender.send(b"z")
    await sender.send_multipart([b"x", b"y"])
    assert _body(sender_type, await second.recv_multipart()) == [b"x", b"y"]
    assert await _received(second) == []


@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
async def test_a_last_frame_refused_with_no_peer_left_returns_at_once(
    ctx: trio_zmq.Context, sender_type: int, peer_type: int
) -> None:
    _, sender = await _vanished_mid_message(ctx, sender_type, peer_type)
    with trio.fail_after(5):  # nothing to wait for: it used to wait, shielded, for ever
        await sender.send(b"z")
    with trio.move_on_after(0.01) as scope:
        await sender.send(b"next")  # no peer: waits, and honours its deadline
    assert scope.cancelled_caught


@pytest.mark.parametrize("frames", [[b"a", b"z"], [b"a", b"b", b"c"]], ids=["last", "middle"])
@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
async def test_send_multipart_whose_peer_vanishes_midway_drops_the_message_whole(
    ctx: trio_zmq.Context,
    monkeypatch: pytest.MonkeyPatch,
    sender_type: int,
    peer_type: int,
    frames: list[bytes],
) -> None:
    first, first_endpoint = _peer(ctx, peer_type)
    second, second_endpoint = _peer(ctx, peer_type)
    sender = ctx.socket(sender_type)
    sender.connect(first_endpoint)
    sender.connect(second_endpoint)
    # Round robin: the first message goes to the first peer, which vanishes.
    _disconnecting_after_first_frame(monkeypatch, sender, first_endpoint)
    await sender.send_multipart(frames)  # the frame after "a" is refused
    await sender.send_multipart([b"x", b"y"])
    assert _body(sender_type, await second.recv_multipart()) == [b"x", b"y"]
    assert await _received(second) == []
    assert await _received(first) == []


@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
async def test_send_multipart_nowait_drops_a_message_whose_peer_vanished_and_the_next_arrives(
    ctx: trio_zmq.Context, monkeypatch: pytest.MonkeyPatch, sender_type: int, peer_type: int
) -> None:
    first, first_endpoint = _peer(ctx, peer_type)
    second, second_endpoint = _peer(ctx, peer_type)
    sender = ctx.socket(sender_type)
    sender.connect(first_endpoint)
    sender.connect(second_endpoint)
    _disconnecting_after_first_frame(monkeypatch, sender, first_endpoint)
    sender.send_multipart_nowait([b"a", b"b", b"c"])  # dropped: no error
    await sender.send_multipart([b"x", b"y"])  # not swallowed by libzmq
    with trio.fail_after(5):
        assert _body(sender_type, await second.recv_multipart()) == [b"x", b"y"]
    assert await _received(first) == []


async def test_a_pair_whose_peer_vanishes_between_frames_drops_the_rest_itself(
    ctx: trio_zmq.Context,
) -> None:
    peer, sender = await _vanished_mid_message(ctx, zmq.PAIR, zmq.PAIR)
    with trio.fail_after(5):
        await sender.send(b"b", zmq.SNDMORE)
        await sender.send_multipart([b"c", b"d"], zmq.SNDMORE)
        await sender.send(b"e")
    assert await _received(peer) == []


async def test_other_senders_wait_for_a_dropped_message_to_end(ctx: trio_zmq.Context) -> None:
    # Until its owner sends the last frame, a dropped message still holds
    # the turn: another task's frames would otherwise be discarded with it.
    _, first_endpoint = _peer(ctx, zmq.PULL)
    second, second_endpoint = _peer(ctx, zmq.PULL)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(first_endpoint)
    await sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(first_endpoint)
    sender.connect(second_endpoint)
    await sender.send(b"b", zmq.SNDMORE)  # refused: the message is dropped
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.send_multipart, [b"other"])
        await trio.testing.wait_all_tasks_blocked()
        assert await _received(second) == []
        await sender.send(b"c")  # the dropped message ends; the other goes
    assert await second.recv_multipart() == [b"other"]


# ----------------------------------------------------------------------
# Bad frames: refused before the first frame goes out, and before any wait


def _strided() -> memoryview:
    return memoryview(bytearray(b"abcdefgh"))[::2]


async def test_a_non_contiguous_frame_is_refused_before_the_first_frame_goes_out(
    ctx: trio_zmq.Context,
) -> None:
    peer, endpoint = _peer(ctx, zmq.PULL)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(endpoint)
    with pytest.raises(TypeError, match=r"contiguous.*bytes\(frame\)"):
        await sender.send_multipart([b"first", _strided()])
    with pytest.raises(TypeError, match="contiguous"):
        sender.send_multipart_nowait([b"first", _strided()])
    await sender.send_multipart([b"next"])
    assert await peer.recv_multipart() == [b"next"]  # not glued to a half message


async def test_a_non_contiguous_numpy_array_is_refused_with_what_to_pass(
    ctx: trio_zmq.Context,
) -> None:
    numpy = pytest.importorskip("numpy")
    peer, endpoint = _peer(ctx, zmq.PULL)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(endpoint)
    array = numpy.arange(24, dtype=numpy.uint8).reshape(4, 6)[:, ::2]
    with pytest.raises(TypeError, match="ascontiguousarray"):
        await sender.send_multipart([b"first", array])
    with pytest.raises(TypeError, match="ascontiguousarray"):
        await sender.send(array)
    await sender.send_multipart([b"h", numpy.ascontiguousarray(array)])
    assert await peer.recv_multipart() == [b"h", bytes(numpy.ascontiguousarray(array))]


async def test_a_bad_frame_in_an_open_message_leaves_the_message_open(
    ctx: trio_zmq.Context,
) -> None:
    peer, endpoint = _peer(ctx, zmq.PULL)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(endpoint)
    await sender.send(b"a", zmq.SNDMORE)
    with pytest.raises(TypeError, match="contiguous"):
        await sender.send(_strided(), zmq.SNDMORE)
    with pytest.raises(TypeError, match="send_string"):
        await sender.send("text")  # type: ignore[call-overload]
    await sender.send(b"b")
    assert await peer.recv_multipart() == [b"a", b"b"]


async def test_send_refuses_text_at_once_while_another_task_holds_the_send_side(
    ctx: trio_zmq.Context,
) -> None:
    _, endpoint = _peer(ctx, zmq.PULL)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(endpoint)
    release = trio.Event()

    async def owner() -> None:
        await sender.send(b"a", zmq.SNDMORE)
        await release.wait()
        await sender.send(b"b")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(5):  # it used to wait for the owner's last frame
            with pytest.raises(TypeError, match="send_string"):
                await sender.send("text")  # type: ignore[call-overload]
            with pytest.raises(TypeError, match="contiguous"):
                await sender.send_multipart([_strided()])
        release.set()


async def test_send_refuses_text_at_once_after_a_send_that_had_to_wait(
    ctx: trio_zmq.Context,
) -> None:
    sender = ctx.socket(zmq.PUSH)
    peer, endpoint = _peer(ctx, zmq.PULL)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.send, b"waits for a peer")
        await trio.testing.wait_all_tasks_blocked()
        sender.connect(endpoint)
    assert await peer.recv() == b"waits for a peer"
    sender.disconnect(endpoint)  # no room now: a send would wait for ever
    with trio.fail_after(5):
        with pytest.raises(TypeError, match="send_string"):
            await sender.send("text")  # type: ignore[call-overload]


# ----------------------------------------------------------------------
# How often libzmq is asked


def _counting_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_send: Callable[..., Any] = trio_zmq._socket._send

    def send(sock: zmq.Socket[Any], data: Any, flags: int, *args: Any) -> Any:
        calls.append(flags)
        return real_send(sock, data, flags, *args)

    # The gate's hot send and the socket's other sends each name pyzmq's send.
    monkeypatch.setattr(trio_zmq._socket, "_send", send)
    monkeypatch.setattr(trio_zmq._gate, "_send", send)
    return calls


async def test_a_failed_noblock_send_asks_libzmq_once(
    ctx: trio_zmq.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = ctx.socket(zmq.PUSH)  # no peer: nothing can go
    calls = _counting_sends(monkeypatch)
    with pytest.raises(zmq.Again):
        await sender.send(b"x", zmq.NOBLOCK)
    assert len(calls) == 1
    sender.sndtimeo = 0  # a zero timeout is the same
    with pytest.raises(zmq.Again):
        await sender.send_multipart([b"x", b"y"])
    assert len(calls) == 2


async def test_a_blocking_send_asks_libzmq_once_before_it_waits(
    ctx: trio_zmq.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = ctx.socket(zmq.PUSH)
    calls = _counting_sends(monkeypatch)
    with trio.move_on_after(0.01):
        await sender.send(b"x")  # one attempt, then EVENTS, then sleep
    assert len(calls) == 1


async def test_a_tracked_send_of_a_discarded_frame_returns_a_finished_tracker(
    ctx: trio_zmq.Context,
) -> None:
    _, sender = await _vanished_mid_message(ctx, zmq.PAIR, zmq.PAIR)
    await sender.send(b"b", zmq.SNDMORE)  # refused: the rest is discarded here
    tracker = await sender.send(b"c", copy=False, track=True)
    assert isinstance(tracker, zmq.MessageTracker)
    assert tracker.done
