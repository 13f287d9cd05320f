"""Hello world: the ZeroMQ Guide's first example, server and client as Trio tasks.

The server is a REP socket that answers each "Hello" with "World"; the client
is a REQ socket that sends ten requests, one at a time, each waiting for its
reply. Both run in one Trio program, over tcp on a port the OS picks.
Run: python examples/hwserver_hwclient.py
"""

import trio
import zmq

import trio_zmq

REQUESTS = 10


async def hwserver(
    ctx: trio_zmq.Context, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    async with ctx.socket(zmq.REP) as socket:
        endpoint = socket.bind("tcp://127.0.0.1:*")  # '*': any free port
        task_status.started(endpoint)  # tell the caller where we listen
        while True:
            message = await socket.recv()
            print(f"server: received {message!r}")
            await trio.sleep(0.01)  # do some 'work'
            await socket.send(b"World")


async def hwclient(ctx: trio_zmq.Context, endpoint: str) -> None:
    async with ctx.socket(zmq.REQ) as socket:
        socket.connect(endpoint)
        for request in range(REQUESTS):
            await socket.send(b"Hello")
            reply = await socket.recv()  # a REQ socket must receive before it sends again
            print(f"client: request {request} got {reply!r}")


async def main() -> None:
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        # nursery.start returns once the server is bound, with its endpoint.
        endpoint: str = await nursery.start(hwserver, ctx)
        await hwclient(ctx, endpoint)
        nursery.cancel_scope.cancel()  # the server would answer forever


if __name__ == "__main__":
    trio.run(main)
