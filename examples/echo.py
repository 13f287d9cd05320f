"""An echo server bound to two endpoints (tcp and ipc), and a client of both.

The server is a ROUTER that sends every message back to its sender; the
client is a DEALER connected to both endpoints, so its requests are spread
over the two. Run: python examples/echo.py
"""

import tempfile

import trio
import zmq

import trio_zmq


async def echo_server(ctx, endpoints, *, task_status=trio.TASK_STATUS_IGNORED):
    async with ctx.socket(zmq.ROUTER) as router:
        bound = [router.bind(endpoint) for endpoint in endpoints]
        task_status.started(bound)  # the resolved endpoints: ports filled in
        async for peer, *frames in router:  # one message per step
            await router.send_multipart([peer, *frames])


async def main():
    with tempfile.TemporaryDirectory() as tmp:  # for the ipc endpoint's file
        async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
            bind_to = ["tcp://127.0.0.1:*", f"ipc://{tmp}/echo"]
            endpoints = await nursery.start(echo_server, ctx, bind_to)
            async with ctx.socket(zmq.DEALER) as client:
                for endpoint in endpoints:
                    client.connect(endpoint)
                for i in range(4):
                    await client.send_string(f"hello {i}")
                    print(await client.recv_string())
            nursery.cancel_scope.cancel()  # stop the server


if __name__ == "__main__":
    trio.run(main)
