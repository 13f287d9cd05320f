"""SendTurn: the right to send the next frame of an open multipart message."""

from __future__ import annotations

import pytest
import trio
import trio.testing
import zmq

from trio_zmq import _turn
from trio_zmq._readiness import Readiness
from trio_zmq._turn import SendTurn


def _turn_and_readiness() -> tuple[SendTurn, Readiness]:
    readiness = Readiness(lambda option: int(zmq.POLLOUT), -1)  # never sleeps on its FD
    return SendTurn(readiness), readiness


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
