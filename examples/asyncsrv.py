"""Asynchronous client/server: ROUTER/DEALER, with worker tasks behind a proxy.

Clients are DEALER sockets: each sends all its requests at once and a
separate task collects the replies as they come. The server is a ROUTER
frontend (tcp) and a DEALER backend (inproc) joined by ``trio_zmq.proxy``
running as a supervised task; worker DEALER sockets behind it answer each
request with one to three replies, out of step with the requests. The
ROUTER's identity frame routes every reply back to the client that asked.
Run: python examples/asyncsrv.py
"""

import random

import trio
import zmq

import trio_zmq

CLIENTS = 3
REQUESTS = 3  # per client
WORKERS = 4
BACKEND = "inproc://backend"


async def client(ctx: trio_zmq.Context, name: str, frontend: str) -> None:
    async with ctx.socket(zmq.DEALER, routing_id=name.encode()) as socket:
        socket.connect(frontend)
        outstanding = set(range(REQUESTS))

        async def receive_replies() -> None:
            while outstanding:
                text = await socket.recv_string()  # "request 2: reply 1 of 3"
                print(f"{name}: {text}")
                request, reply = text.split(": ")
                part, total = reply.removeprefix("reply ").split(" of ")
                if part == total:
                    outstanding.discard(int(request.removeprefix("request ")))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_replies)  # replies come while we send
            for request in range(REQUESTS):
                await socket.send_string(f"request {request}")


async def worker(
    ctx: trio_zmq.Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    async with ctx.socket(zmq.DEALER) as socket:
        socket.connect(BACKEND)
        task_status.started()
        # Through the proxy a request arrives as [client identity, request].
        async for identity, request in socket:
            replies = random.randint(1, 3)
            for n in range(1, replies + 1):
                await trio.sleep(random.random() / 100)  # 'work'
                reply = f"{request.decode()}: reply {n} of {replies}"
                await socket.send_multipart([identity, reply.encode()])


async def main() -> None:
    async with (
        trio_zmq.Context() as ctx,
        ctx.socket(zmq.ROUTER) as frontend,
        ctx.socket(zmq.DEALER) as backend,
        trio.open_nursery() as server,
    ):
        endpoint = frontend.bind("tcp://127.0.0.1:*")
        backend.bind(BACKEND)
        # The proxy is a supervised task: it returns once it forwards, and
        # stops when the nursery is cancelled (the sockets stay ours).
        await server.start(trio_zmq.proxy, frontend, backend)
        for _ in range(WORKERS):
            await server.start(worker, ctx)
        async with trio.open_nursery() as clients:
            for n in range(CLIENTS):
                clients.start_soon(client, ctx, f"client-{n}", endpoint)
        print("every request fully answered")
        server.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
