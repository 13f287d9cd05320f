"""SendTurn: the right to send the next frame of an open multipart message."""

from __future__ import annotations

import pytest
import trio
import trio.testing
import zmq

from trio_zmq._readiness import Readiness
from trio_zmq._turn import SendTurn


def _turn() -> tuple[SendTurn, Readiness]:
    readiness = Readiness(lambda option: int(zmq.POLLOUT), -1)  # never sleeps on its FD
    return SendTurn(readiness), readiness


async def test_a_sender_waits_for_the_owners_release() -> None:
    turn, rd = _turn()
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
    turn, _ = _turn()
    me = trio.lowlevel.current_task()
    turn.take(me)
    with trio.testing.assert_no_checkpoints():
        await turn.wait(me)
    turn.release()


async def test_an_owner_that_ends_breaks_the_turn_for_those_waiting() -> None:
    turn, rd = _turn()
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
    turn, rd = _turn()
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
    turn, rd = _turn()
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
