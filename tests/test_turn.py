"""SendTurn: the right to send the next frame of an open multipart message, and the
fate of a message whose peer vanishes between two frames (without I/O: a fake send)."""

from __future__ import annotations

import pytest
import trio
import trio.testing
import zmq

from trio_zmq import _turn
from trio_zmq._readiness import Readiness
from trio_zmq._turn import SendTurn


def _no_send(data: object, flags: int, copy: bool, track: bool) -> None:
    raise AssertionError("this test sends nothing")


def _turn_and_readiness() -> tuple[SendTurn, Readiness]:
    readiness = Readiness(lambda option: int(zmq.POLLOUT), -1)  # never sleeps on its FD
    return SendTurn(readiness, _no_send, False), readiness


class Peer:
    """A fake send: takes frames until *vanish_after* of them, then refuses (EAGAIN)."""

    def __init__(self, vanish_after: int) -> None:
        self.vanish_after = vanish_after
        self.offered: list[tuple[bytes, bool]] = []  # every frame handed over, and SNDMORE
        self.taken: list[bytes] = []

    def send(self, data: bytes, flags: int, copy: bool, track: bool) -> None:
        self.offered.append((data, bool(flags & zmq.SNDMORE)))
        assert flags & zmq.NOBLOCK
        if len(self.taken) >= self.vanish_after:
            raise zmq.Again()
        self.taken.append(data)


def _state(turn: SendTurn) -> tuple[object, bool]:
    return turn.owner, turn.dropping


def _turn_for(peer: Peer, discards_rest: bool) -> SendTurn:
    return SendTurn(Readiness(lambda option: 0, -1), peer.send, discards_rest)


async def test_a_whole_message_goes_out_frame_by_frame_with_sndmore_between() -> None:
    peer = Peer(vanish_after=10)
    _turn_for(peer, False).put([b"a", b"b", b"c"], 0, True, False, False)
    assert peer.offered == [(b"a", True), (b"b", True), (b"c", False)]


async def test_a_refused_first_frame_sends_nothing_and_says_again() -> None:
    peer = Peer(vanish_after=0)
    turn = _turn_for(peer, False)
    with pytest.raises(zmq.Again):
        turn.put([b"a", b"b"], 0, True, False, False)
    assert peer.offered == [(b"a", True)]
    assert turn.owner is None


async def test_a_peer_that_vanishes_midway_drops_the_rest_here_for_types_that_keep_refusing() -> (
    None
):
    peer = Peer(vanish_after=1)  # a PAIR's peer goes after the first frame
    turn = _turn_for(peer, discards_rest=False)
    assert turn.put([b"a", b"b", b"c"], 0, True, False, False) is None  # dropped, silently
    assert peer.offered == [(b"a", True), (b"b", True)]  # the refused frame is never sent again
    assert turn.owner is None


async def test_a_load_balancing_type_is_handed_the_rest_to_discard_by_itself() -> None:
    peer = Peer(vanish_after=1)
    turn = _turn_for(peer, discards_rest=True)
    turn.put([b"a", b"b", b"c"], 0, True, False, False)
    assert peer.offered == [(b"a", True), (b"b", True), (b"c", False)]


async def test_an_open_message_whose_peer_vanished_drops_its_later_frames() -> None:
    peer = Peer(vanish_after=1)
    turn = _turn_for(peer, discards_rest=False)
    me = trio.lowlevel.current_task()
    turn.put([b"a"], zmq.SNDMORE, True, False, False)
    assert turn.owner is me
    turn.put([b"b"], zmq.SNDMORE, True, False, True)  # refused: the peer went away
    assert turn.dropping
    offered = len(peer.offered)
    turn.put([b"c"], zmq.SNDMORE, True, False, True)
    tracker = turn.put([b"d"], 0, True, True, True)  # the last frame ends the message
    assert len(peer.offered) == offered  # nothing of the dead message went out
    assert isinstance(tracker, zmq.MessageTracker)  # nothing to track, but a tracker
    assert _state(turn) == (None, False)
    peer.vanish_after = 10
    turn.put([b"next"], 0, True, False, False)  # the next message goes out whole
    assert peer.taken[-1] == b"next"


async def test_a_sender_waits_for_the_owners_release() -> None:
    turn, rd = _turn_and_readiness()
    owner_holds, release = trio.Event(), trio.Event()
    order: list[str] = []

    async def owner() -> None:
        turn.take(trio.lowlevel.current_task())
        owner_holds.set()
        await release.wait()
        order.append("owner released")
        turn.release()

    async def other() -> None:
        await owner_holds.wait()
        await turn.wait(trio.lowlevel.current_task())
        order.append("other's turn")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        nursery.start_soon(other)
        await trio.testing.wait_all_tasks_blocked()
        assert rd.sleepers == 1  # the readiness knows who waits for a turn
        release.set()
    assert order == ["owner released", "other's turn"]
    assert turn.owner is None


async def test_the_owner_never_waits_for_its_own_turn() -> None:
    turn, _ = _turn_and_readiness()
    me = trio.lowlevel.current_task()
    turn.take(me)
    with trio.testing.assert_no_checkpoints():
        await turn.wait(me)
    turn.release()


async def test_an_owner_that_ends_breaks_the_turn_for_those_waiting() -> None:
    turn, rd = _turn_and_readiness()
    end = trio.Event()
    errors: list[BaseException] = []

    async def owner() -> None:
        turn.take(trio.lowlevel.current_task())
        await end.wait()  # and ends, without its last frame

    async def waiter() -> None:
        try:
            await turn.wait(trio.lowlevel.current_task())
        except trio.BrokenResourceError as exc:
            errors.append(exc)

    with trio.fail_after(10):  # within OWNER_CHECK on Trio without breakers
        async with trio.open_nursery() as nursery:
            nursery.start_soon(owner)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            assert rd.sleepers == 1
            end.set()
    assert len(errors) == 1
    assert "halfway through" in str(errors[0])
    assert rd.sleepers == 0
    with pytest.raises(trio.BrokenResourceError):
        turn.check()  # and it stays broken


async def test_a_close_wakes_those_waiting_for_a_turn() -> None:
    turn, rd = _turn_and_readiness()
    turn.take(trio.lowlevel.current_task())  # this task owns the turn and stays

    async def other() -> None:
        with pytest.raises(trio.ClosedResourceError):
            await turn.wait(trio.lowlevel.current_task())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await trio.testing.wait_all_tasks_blocked()
        rd.close()
        turn.close()
    assert turn.owner is None


async def test_a_cancelled_wait_for_a_turn_changes_nothing() -> None:
    turn, rd = _turn_and_readiness()
    me = trio.lowlevel.current_task()
    turn.take(me)
    with trio.move_on_after(0.01) as scope:

        async def waiter() -> None:
            await turn.wait(trio.lowlevel.current_task())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
    assert scope.cancelled_caught
    assert turn.owner is me
    assert rd.sleepers == 0
    turn.release()


async def _time_until_broken(turn: SendTurn) -> float:
    """Virtual seconds from an owner's end to its waiter's BrokenResourceError."""
    end = trio.Event()
    told: list[float] = []

    async def owner() -> None:
        turn.take(trio.lowlevel.current_task())
        await end.wait()

    async def waiter() -> None:
        with pytest.raises(trio.BrokenResourceError):
            await turn.wait(trio.lowlevel.current_task())
        told.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        ended = trio.current_time()
        end.set()
    return told[0] - ended


@pytest.mark.skipif(_turn._add_breaker is None, reason="this Trio has no parking-lot breakers")
async def test_with_breakers_the_waiter_is_told_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    turn, _ = _turn_and_readiness()
    assert await _time_until_broken(turn) == 0


async def test_without_breakers_the_waiter_finds_out_within_owner_check(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_turn, "_add_breaker", None)
    monkeypatch.setattr(_turn, "_remove_breaker", None)
    turn, _ = _turn_and_readiness()
    assert 0 < await _time_until_broken(turn) <= _turn.OWNER_CHECK
