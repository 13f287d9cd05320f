"""An echo server bound to two endpoints (tcp and ipc), and a client of both.

The server is a ROUTER that sends every message back to its sender; the
client is a DEALER connected to both endpoints, so its requests are spread
over the two. The README shows this program. Run: python examples/echo.py

libzmq refuses an ipc path longer than 107 bytes, and TMPDIR can be long (nox
points it into the checkout), so the ipc file goes in a new directory in /tmp
when /tmp is writable, else in the usual temporary directory.
"""

import os
import tempfile

import trio
import zmq

import trio_zmq


async def echo_server(
    ctx: trio_zmq.Context,
    *endpoints: str,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with ctx.socket(zmq.ROUTER) as router:
        task_status.started([router.bind(endpoint) for endpoint in endpoints])  # ports filled in
        async for peer, *frames in router:  # one message per step
            await router.send_multipart([peer, *frames])


async def main(tmp: str) -> None:
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        endpoints: list[str] = await nursery.start(
            echo_server, ctx, "tcp://127.0.0.1:*", f"ipc://{tmp}/echo"
        )
        async with ctx.socket(zmq.DEALER) as client:
            for endpoint in endpoints:
                client.connect(endpoint)
            for i in range(4):
                await client.send_string(f"hello {i}")
                print(await client.recv_string())
        nursery.cancel_scope.cancel()  # stop the server


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(dir="/tmp" if os.access("/tmp", os.W_OK) else None) as tmp:
        trio.run(main, tmp)
