"""Hello world with a deadline, in zmq.asyncio: where the porting pages start.

The ZeroMQ Guide's first example (Chapter 1, hwserver and hwclient), with a
deadline on every reply. The server is an asyncio task; the client waits at
most a second for each reply (asyncio.wait_for). When the client is done,
the server task is cancelled, then the sockets are closed and the context
terminated.

docs/from-asyncio.md puts this program next to porting_trio.py, the same
program in trio_zmq; porting_pyzmq.py is the blocking pyzmq version.
Run: python examples/porting_asyncio.py
"""

import asyncio
import contextlib

import zmq
import zmq.asyncio

REQUESTS = 3


async def server(sock: zmq.asyncio.Socket) -> None:
    while True:
        await sock.recv()
        await sock.send(b"World")


async def main() -> None:
    ctx = zmq.asyncio.Context()
    rep = ctx.socket(zmq.REP)
    client = ctx.socket(zmq.REQ)
    try:
        rep.bind("tcp://127.0.0.1:*")
        endpoint = rep.getsockopt_string(zmq.LAST_ENDPOINT)
        server_task = asyncio.create_task(server(rep))
        client.connect(endpoint)
        for request in range(1, REQUESTS + 1):
            await client.send(b"Hello")
            try:
                reply = await asyncio.wait_for(client.recv(), timeout=1)
            except asyncio.TimeoutError:
                print("no reply within a second")
                break
            print(f"request {request}: {reply!r}")
        server_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server_task
    finally:
        client.close()
        rep.close()
        ctx.term()


if __name__ == "__main__":
    asyncio.run(main())
