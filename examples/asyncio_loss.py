"""A cancelled receive, in zmq.asyncio and in trio_zmq: what each loses.

The page for readers coming from zmq.asyncio (docs/from-asyncio.md) says
where a message goes when a receive is cancelled. This program shows it.
Each round sends one message to a PULL socket on which a task waits in a
receive, and cancels that task just after the message has arrived:

* in zmq.asyncio, at the moment the receive's future has completed (it has
  taken the message from the socket) but before its task resumes. This is
  the moment a `wait_for` or `asyncio.timeout` deadline can strike in a
  real program; here the program makes it happen in every round, from a
  callback on the future.
* in trio_zmq, the receiving task's cancel scope is cancelled as soon as
  the message is sent, before the task has run again.

After every round, what the task got and what is still in the socket are
counted: a message in neither place was lost. Both libraries run the same
rounds with `recv` and with `recv_json`; pyzmq warns "A message has been
dropped!" in a few cases only, and this program counts its warnings too.
Run: python examples/asyncio_loss.py
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import trio
import trio.testing
import zmq
import zmq.asyncio

import trio_zmq

ROUNDS = 200
METHODS = ["recv", "recv_json"]


def _message(i: int) -> bytes:
    return b'{"round": %d}' % i


def _drain(sock: zmq.Socket[Any]) -> int:
    """How many messages are still waiting in *sock* (a blocking pyzmq socket)."""
    count = 0
    while True:
        try:
            sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return count
        count += 1


async def asyncio_receive(sock: zmq.asyncio.Socket, method: str, received: list[Any]) -> None:
    task = asyncio.current_task()
    assert task is not None
    future = getattr(sock, method)()
    # The cancellation comes as the future completes, before this task has
    # run again: as a deadline may strike.
    future.add_done_callback(lambda _: task.cancel())
    received.append(await future)


async def trio_receive(
    sock: trio_zmq.Socket,
    method: str,
    received: list[Any],
    *,
    task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.CancelScope() as scope:
        task_status.started(scope)
        received.append(await getattr(sock, method)())


async def asyncio_rounds(method: str) -> tuple[int, int]:
    """Rounds in zmq.asyncio: (messages lost, "A message has been dropped!" warnings)."""
    ctx = zmq.asyncio.Context()
    pull = ctx.socket(zmq.PULL)
    push = ctx.socket(zmq.PUSH)
    lost = 0
    try:
        endpoint = f"inproc://asyncio-loss-{method}"
        pull.bind(endpoint)
        push.connect(endpoint)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(ROUNDS):
                received: list[Any] = []
                receiver = asyncio.create_task(asyncio_receive(pull, method, received))
                await asyncio.sleep(0)  # the receive is waiting now
                await push.send(_message(i))
                await asyncio.gather(receiver, return_exceptions=True)
                await asyncio.sleep(0.001)  # let libzmq settle what is in flight
                still_there = _drain(zmq.Socket.shadow(pull.underlying))
                lost += 1 - len(received) - still_there
        dropped = sum("A message has been dropped" in str(w.message) for w in caught)
    finally:
        pull.close(linger=0)
        push.close(linger=0)
        ctx.term()
    return lost, dropped


async def trio_rounds(method: str) -> int:
    """The same rounds in trio_zmq: messages lost."""
    lost = 0
    async with (
        trio_zmq.Context() as ctx,
        ctx.socket(zmq.PULL) as pull,
        ctx.socket(zmq.PUSH) as push,
    ):
        endpoint = f"inproc://trio-loss-{method}"
        pull.bind(endpoint)
        push.connect(endpoint)
        for i in range(ROUNDS):
            received: list[Any] = []
            async with trio.open_nursery() as nursery:
                scope: trio.CancelScope = await nursery.start(trio_receive, pull, method, received)
                await trio.testing.wait_all_tasks_blocked()  # the receive is waiting
                await push.send(_message(i))
                scope.cancel()  # before the receiving task has run again
            await trio.sleep(0.001)
            still_there = _drain(pull.underlying)
            lost += 1 - len(received) - still_there
    return lost


def main() -> None:
    for method in METHODS:
        lost, dropped = asyncio.run(asyncio_rounds(method))
        print(
            f"zmq.asyncio {method}: lost {lost} of {ROUNDS} messages,"
            f' warned "A message has been dropped!" {dropped} times'
        )
    for method in METHODS:
        lost = trio.run(trio_rounds, method)
        print(f"trio_zmq    {method}: lost {lost} of {ROUNDS} messages")


if __name__ == "__main__":
    main()
