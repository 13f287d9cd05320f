"""Hello world with a deadline, in trio_zmq: where the porting pages arrive.

The ZeroMQ Guide's first example (Chapter 1, hwserver and hwclient), with a
deadline on every reply, ported from porting_pyzmq.py (blocking pyzmq) and
from porting_asyncio.py (zmq.asyncio); docs/from-pyzmq.md and
docs/from-asyncio.md show the programs side by side. The server is a task,
started with nursery.start once it is bound; the client waits at most a
second for each reply (trio.move_on_after); cancelling the nursery stops the
server, and the async with blocks close the sockets and the context.
Run: python examples/porting_trio.py
"""

import trio
import zmq

import trio_zmq

REQUESTS = 3


async def server(
    ctx: trio_zmq.Context, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    async with ctx.socket(zmq.REP) as rep:
        task_status.started(rep.bind("tcp://127.0.0.1:*"))
        while True:
            await rep.recv()
            await rep.send(b"World")


async def main() -> None:
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        endpoint: str = await nursery.start(server, ctx)
        async with ctx.socket(zmq.REQ) as client:
            client.connect(endpoint)
            for request in range(1, REQUESTS + 1):
                await client.send(b"Hello")
                with trio.move_on_after(1) as deadline:
                    reply = await client.recv()
                if deadline.cancelled_caught:
                    print("no reply within a second")
                    break
                print(f"request {request}: {reply!r}")
        nursery.cancel_scope.cancel()  # stop the server


if __name__ == "__main__":
    trio.run(main)
