"""The ZeroMQ Guide's load-balancing broker, with clients and workers as Trio tasks.

Workers are REQ sockets that announce themselves with READY and then get one
request at a time; the broker keeps the workers that are free in a queue and
hands each client request to the one that has waited longest. It reads from
the clients only while some worker is free, so requests wait in the client
sockets rather than pile up in the broker.

Run: python examples/lbbroker.py
"""

import trio
import zmq

import trio_zmq

CLIENTS = 6
WORKERS = 3


async def client(ctx: trio_zmq.Context, endpoint: str, name: str) -> None:
    async with ctx.socket(zmq.REQ, routing_id=name.encode()) as sock:
        sock.connect(endpoint)
        await sock.send(b"HELLO")
        print(f"{name}: {(await sock.recv()).decode()}")


async def worker(ctx: trio_zmq.Context, endpoint: str, name: str) -> None:
    async with ctx.socket(zmq.REQ, routing_id=name.encode()) as sock:
        sock.connect(endpoint)
        await sock.send(b"READY")
        while True:
            client_id, _, _request = await sock.recv_multipart()
            await sock.send_multipart([client_id, b"", b"OK from " + sock.routing_id])


async def broker(
    frontend: trio_zmq.Socket,
    backend: trio_zmq.Socket,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    free_send, free_receive = trio.open_memory_channel[bytes](WORKERS)  # free workers' ids

    async def from_workers() -> None:
        async for worker_id, _, *rest in backend:
            await free_send.send(worker_id)  # a READY or a reply: the worker is free
            if rest[0] != b"READY":
                client_id, _, reply = rest
                await frontend.send_multipart([client_id, b"", reply])

    async def from_clients() -> None:
        async for worker_id in free_receive:  # wait for a free worker first
            client_id, _, request = await frontend.recv_multipart()
            await backend.send_multipart([worker_id, b"", client_id, b"", request])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(from_workers)
        nursery.start_soon(from_clients)
        task_status.started()


async def main() -> None:
    async with trio_zmq.Context() as ctx:
        frontend = ctx.socket(zmq.ROUTER)
        backend = ctx.socket(zmq.ROUTER)
        clients_endpoint = frontend.bind("tcp://127.0.0.1:*")
        workers_endpoint = backend.bind("tcp://127.0.0.1:*")
        async with trio.open_nursery() as nursery:
            await nursery.start(broker, frontend, backend)
            for i in range(WORKERS):
                nursery.start_soon(worker, ctx, workers_endpoint, f"worker-{i}")
            async with trio.open_nursery() as clients:
                for i in range(CLIENTS):
                    clients.start_soon(client, ctx, clients_endpoint, f"client-{i}")
            nursery.cancel_scope.cancel()  # every client is served: stop the rest


if __name__ == "__main__":
    trio.run(main)
