"""trio_zmq inside an asyncio program: Trio's guest mode.

A program whose main loop is asyncio's (a Qt or Jupyter program has a loop of
its own in the same way) can still run Trio code, as a *guest*:
``trio.lowlevel.start_guest_run`` runs Trio's scheduler in callbacks of the
host loop and leaves only the wait for I/O to a thread. trio_zmq needs nothing
else, so its sockets work there unchanged.

Here the host loop serves requests over ZeroMQ with ``zmq.asyncio`` (a REP
socket), while the Trio guest runs a REQ client and a PUSH/PULL pipeline with
several tasks on one socket. Each side keeps to its own library: a socket is
used only by the loop that made it.
Run: python examples/guest_asyncio.py
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import trio
import zmq
import zmq.asyncio

import trio_zmq

if TYPE_CHECKING:
    from outcome import Outcome


async def trio_main(endpoint: str) -> int:
    """The guest: a REQ client of the host's server, and a pipeline of its own."""
    with trio.fail_after(10):
        async with trio_zmq.Context() as ctx:
            async with ctx.socket(zmq.REQ) as req:
                req.connect(endpoint)
                for word in (b"hello", b"guest", b"mode"):
                    await req.send(word)
                    print("trio: got", await req.recv())

            # Several tasks on one socket, as in any Trio program.
            async with ctx.socket(zmq.PUSH) as push, ctx.socket(zmq.PULL) as pull:
                pipe = pull.bind("inproc://pipeline")
                push.connect(pipe)
                total = 0

                async def produce(first: int) -> None:
                    for n in range(first, first + 10):
                        await push.send(b"%d" % n)

                async def consume() -> None:
                    nonlocal total
                    for _ in range(10):
                        value = int(await pull.recv())  # not `total += ...`: that reads
                        total += value  # total before the await, and loses updates

                async with trio.open_nursery() as nursery:
                    for first in (0, 10, 20):
                        nursery.start_soon(produce, first)
                        nursery.start_soon(consume)
                print("trio: pipeline total", total)
                return total


async def main() -> None:
    """The host: an asyncio program with a zmq.asyncio server and a Trio guest."""
    loop = asyncio.get_running_loop()
    actx = zmq.asyncio.Context()
    rep = actx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")

    async def serve(requests: int) -> None:
        for _ in range(requests):
            await rep.send((await rep.recv()).upper())

    server = asyncio.create_task(serve(3))

    finished: asyncio.Future[int] = loop.create_future()

    def done(outcome: Outcome[int]) -> None:
        try:
            finished.set_result(outcome.unwrap())
        except BaseException as exc:  # the guest's error, re-raised by the await below
            finished.set_exception(exc)

    trio.lowlevel.start_guest_run(
        trio_main,
        f"tcp://127.0.0.1:{port}",
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        run_sync_soon_not_threadsafe=loop.call_soon,
        done_callback=done,
        host_uses_signal_set_wakeup_fd=True,
    )
    total = await finished
    await server
    rep.close(linger=0)
    actx.term()
    assert total == sum(range(30))
    print("asyncio: the guest finished")


if __name__ == "__main__":
    asyncio.run(main())
