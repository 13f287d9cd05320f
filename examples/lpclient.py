"""Lazy Pirate: a reliable REQ client, with a timeout and retries (the Guide's lpclient).

A REQ socket must receive a reply before it can send again, so when a reply
does not come the only way out is to close the socket and open a new one.
The client waits for each reply under ``trio.move_on_after``; on a timeout
it closes the socket, reconnects and sends the request again, up to
RETRIES times, then gives up on the server. The server here is a task that
drops some requests on purpose (a ROUTER socket, so it can simply not
answer).
Run: python examples/lpclient.py
"""

import random

import trio
import zmq

import trio_zmq

REQUESTS = 6
REQUEST_TIMEOUT = 0.25  # seconds
RETRIES = 3


async def flaky_server(
    ctx: trio_zmq.Context, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    chance = random.Random(7)  # a fixed seed: the same requests drop every run
    async with ctx.socket(zmq.ROUTER) as socket:
        endpoint = socket.bind("tcp://127.0.0.1:*")
        task_status.started(endpoint)
        # A REQ socket's request reaches a ROUTER as [identity, b"", body].
        async for identity, empty, body in socket:
            if chance.random() < 0.3:
                print(f"server: drops request {body.decode()}")
                continue
            await socket.send_multipart([identity, empty, body])  # echo as the reply


async def lazy_pirate(ctx: trio_zmq.Context, endpoint: str) -> None:
    socket = ctx.socket(zmq.REQ)
    socket.connect(endpoint)
    try:
        for sequence in range(1, REQUESTS + 1):
            request = str(sequence).encode()
            for attempt in range(1, RETRIES + 1):
                await socket.send(request)
                with trio.move_on_after(REQUEST_TIMEOUT):
                    reply = await socket.recv()
                    print(f"client: request {sequence} answered ({reply!r})")
                    break
                # No reply in time. The socket still owes a reply, so it
                # cannot send again: close it (dropping the request with
                # linger=0) and start over with a fresh one.
                print(f"client: no reply to request {sequence} (attempt {attempt})")
                socket.close(linger=0)
                socket = ctx.socket(zmq.REQ)
                socket.connect(endpoint)
            else:
                print("client: the server seems to be offline, abandoning")
                return
    finally:
        socket.close(linger=0)


async def main() -> None:
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        endpoint: str = await nursery.start(flaky_server, ctx)
        await lazy_pirate(ctx, endpoint)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
