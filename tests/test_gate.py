"""The one way into libzmq (``_gate.py``): no call, however it ends, strands a sleeper.

Each test puts a task to sleep on a socket, makes libzmq queue a command for
that socket that carries the sleeper's news (room to send, a message to
receive), and then makes one synchronous call on the socket before the
sleeper can run. libzmq processes the command inside that call, which
clears the socket's edge-triggered FD: unless the call hands the sleepers a
fresh look at ``EVENTS``, the sleeper never wakes. Inproc PAIRs with a
high-water mark of one make every step deterministic. (A send processes
commands only if it has not done so for about a millisecond, so the tests
wait that long, blocking, before the call.)

``tests/test_conformance.py`` runs the same scenarios over every operation.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._gate import AGAIN, Gate

from .helpers import drain, fill, pair

if TYPE_CHECKING:
    from collections.abc import Callable

SMALL: dict[str, Any] = {"sndhwm": 1, "rcvhwm": 1, "linger": 0}
#: How long a woken task may take to show progress; a stranded one never does.
PROGRESS_S = 5
#: A send skips processing commands if it processed some less than about a
#: millisecond ago (libzmq's max_command_delay, in CPU cycles): wait longer,
#: without a checkpoint.
THROTTLE_S = 0.005


#: Calls that make libzmq process the socket's commands (with libzmq 4.3.5,
#: reading or setting an option other than EVENTS does not; the gate re-checks
#: after those too, and ``tests/test_conformance.py`` runs every operation).
CALLS: dict[str, Callable[[trio_zmq.Socket], object]] = {
    "recv_nowait": lambda s: s.recv_nowait(),
    "recv_multipart_nowait": lambda s: s.recv_multipart_nowait(),
    "send_nowait": lambda s: s.send_nowait(b"call"),
    "send_multipart_nowait": lambda s: s.send_multipart_nowait([b"call"]),
}


def call_swallowing(call: Callable[[trio_zmq.Socket], object], sock: trio_zmq.Socket) -> None:
    with contextlib.suppress(trio.WouldBlock, zmq.ZMQError):
        call(sock)


@pytest.mark.parametrize("name", ["recv_nowait", "recv_multipart_nowait"])
async def test_a_call_that_takes_the_edge_of_room_to_send_wakes_the_sleeping_sender(
    ctx: trio_zmq.Context, name: str
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, **SMALL)
    sent_after_room = trio.Event()

    async def sender() -> None:
        while True:
            await a.send(b"s")
            if drained.is_set():
                sent_after_room.set()

    drained = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()  # the pipe is full: it sleeps
        assert drain(b)  # room: libzmq queues "activate write" for a
        drained.set()
        time.sleep(THROTTLE_S)
        call_swallowing(CALLS[name], a)  # a processes it: the FD's edge is gone
        with trio.fail_after(PROGRESS_S):
            await sent_after_room.wait()
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("name", ["send_nowait", "send_multipart_nowait"])
async def test_a_call_that_takes_the_edge_of_a_message_wakes_the_sleeping_receiver(
    ctx: trio_zmq.Context, name: str
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, **SMALL)
    fill(a)  # so that a send from a fails
    received: list[bytes] = []

    async def receiver() -> None:
        received.append(await a.recv())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        b.send_nowait(b"news")  # libzmq queues "activate read" for a
        time.sleep(THROTTLE_S)
        call_swallowing(CALLS[name], a)  # a processes it: the FD's edge is gone
        with trio.fail_after(PROGRESS_S):
            while not received:
                await trio.sleep(0.001)
    assert received == [b"news"]


async def test_the_gate_rechecks_on_every_way_out() -> None:
    """Each of the gate's ways in (``now``, and the two hot ones spelled out) re-checks
    however the call ends: a result, ``zmq.Again``, a libzmq error, any other error."""
    checked: list[str] = []

    class Sleepers:
        waiting = 1

        def recheck(self) -> None:
            checked.append("recheck")

    def again(*_: object) -> None:
        raise zmq.Again()

    def error(*_: object) -> None:
        raise zmq.ZMQError(zmq.EINVAL)

    def crash(*_: object) -> None:
        raise ZeroDivisionError

    with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as push:  # no peer: a send is Again
        gate = Gate(push, Sleepers(), zmq.PUSH)  # type: ignore[arg-type]
        assert gate.now(lambda: 7) == 7
        assert gate.now(again) is AGAIN
        with pytest.raises(zmq.ZMQError):
            gate.now(error)
        with pytest.raises(ZeroDivisionError):
            gate.now(crash)
        assert checked == ["recheck"] * 4

        checked.clear()
        assert gate.receive(lambda *args: args[1:], 1, True, False) == (1, True, False)
        assert gate.receive(again, 1, True, False) is AGAIN
        with pytest.raises(zmq.ZMQError):
            gate.receive(error, 1, True, False)
        with pytest.raises(ZeroDivisionError):
            gate.receive(crash, 1, True, False)
        assert checked == ["recheck"] * 4

        checked.clear()
        assert gate.send(b"x", zmq.NOBLOCK, True, False) is AGAIN
        with pytest.raises(TypeError):
            gate.send("text", zmq.NOBLOCK, True, False)
        with ctx.socket(zmq.PULL) as pull:
            pull.bind("inproc://the-gate-sends")
            push.connect("inproc://the-gate-sends")  # a bound inproc peer: a pipe at once
            assert gate.send(b"x", zmq.NOBLOCK, True, False) is None
        closed = ctx.socket(zmq.PUSH)
        closed.close()
        with pytest.raises(trio.ClosedResourceError):  # ENOTSOCK, translated
            Gate(closed, Sleepers(), zmq.PUSH).send(b"x", zmq.NOBLOCK, True, False)  # type: ignore[arg-type]
        assert checked == ["recheck"] * 4
