"""Paranoid Pirate: a queue between clients and workers, with heartbeats both ways.

(The Guide's ppqueue and ppworker, as tasks of one program.)

* Workers are DEALER sockets. Each says READY, then does requests; a
  separate task sends HEARTBEAT on the same socket at a steady pace, even
  while the worker is busy (trio_zmq lets several tasks use one socket). A
  worker that hears nothing from the queue for a while reconnects.
* The queue has a ROUTER for clients and a ROUTER for workers. It sends each
  request to the worker that has been ready the longest, heartbeats every
  worker it knows, and forgets a worker it has not heard from in time.
* The client is a Lazy Pirate (see lpclient.py): a REQ socket, a timeout,
  retries on a fresh socket.

One worker "crashes" (stops, mid-request); the client's retry goes to
another worker, and the queue forgets the dead one. The run is bounded by
the client's REQUESTS.
Run: python examples/ppqueue.py
"""

import trio
import zmq

import trio_zmq

FRONTEND = "inproc://ppqueue-clients"
BACKEND = "inproc://ppqueue-workers"
READY, HEARTBEAT = b"\x01", b"\x02"
HEARTBEAT_INTERVAL = 0.1  # seconds
LIVENESS = 3  # heartbeats missed before a peer is taken for dead
SILENCE_LIMIT = HEARTBEAT_INTERVAL * LIVENESS
REQUESTS = 8
REQUEST_TIMEOUT = 1.0
RETRIES = 3


# ----------------------------------------------------------------------
# The queue


class Queue:
    def __init__(self, frontend: trio_zmq.Socket, backend: trio_zmq.Socket) -> None:
        self.frontend = frontend
        self.backend = backend
        self.ready: list[bytes] = []  # idle workers, the longest idle first
        self.expiry: dict[bytes, float] = {}  # every live worker -> when it is taken for dead
        self.worker_ready = trio.Event()

    def heard_from(self, worker: bytes, *, idle: bool) -> None:
        self.expiry[worker] = trio.current_time() + SILENCE_LIMIT
        if idle and worker not in self.ready:
            self.ready.append(worker)
            self.worker_ready.set()

    async def next_worker(self) -> bytes:
        while not self.ready:
            self.worker_ready = trio.Event()
            await self.worker_ready.wait()
        return self.ready.pop(0)

    async def from_workers(self) -> None:
        async for worker, *message in self.backend:
            if message == [READY]:
                print(f"queue: {worker.decode()} is ready")
                self.heard_from(worker, idle=True)
            elif message == [HEARTBEAT]:
                self.heard_from(worker, idle=False)
            else:  # a reply: [client, b"", body]
                self.heard_from(worker, idle=True)
                await self.frontend.send_multipart(message)

    async def from_clients(self) -> None:
        async for request in self.frontend:  # [client, b"", body]
            worker = await self.next_worker()
            await self.backend.send_multipart([worker, *request])

    async def heartbeat(self) -> None:
        while True:
            await trio.sleep(HEARTBEAT_INTERVAL)
            now = trio.current_time()
            for worker, deadline in list(self.expiry.items()):
                if deadline < now:
                    print(f"queue: {worker.decode()} is silent, forgetting it")
                    del self.expiry[worker]
                    if worker in self.ready:
                        self.ready.remove(worker)
                else:
                    await self.backend.send_multipart([worker, HEARTBEAT])


async def ppqueue(
    ctx: trio_zmq.Context, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    async with (
        ctx.socket(zmq.ROUTER) as frontend,
        ctx.socket(zmq.ROUTER, router_handover=1) as backend,  # a worker may reconnect
        trio.open_nursery() as nursery,
    ):
        frontend.bind(FRONTEND)
        backend.bind(BACKEND)
        queue = Queue(frontend, backend)
        nursery.start_soon(queue.from_workers)
        nursery.start_soon(queue.from_clients)
        nursery.start_soon(queue.heartbeat)
        task_status.started()


# ----------------------------------------------------------------------
# A worker


async def send_heartbeats(socket: trio_zmq.Socket) -> None:
    while True:
        await trio.sleep(HEARTBEAT_INTERVAL)
        await socket.send(HEARTBEAT)  # the same socket the replies go out on


async def ppworker(ctx: trio_zmq.Context, name: str, crash_at: int | None = None) -> None:
    handled = 0
    while True:  # one round per connection to the queue
        async with (
            ctx.socket(zmq.DEALER, routing_id=name.encode()) as socket,
            trio.open_nursery() as nursery,
        ):
            socket.connect(BACKEND)
            await socket.send(READY)
            nursery.start_soon(send_heartbeats, socket)
            while True:
                message = None
                with trio.move_on_after(SILENCE_LIMIT):
                    message = await socket.recv_multipart()
                if message is None:
                    print(f"{name}: the queue is silent, reconnecting")
                    break
                if message == [HEARTBEAT]:
                    continue
                client, empty, body = message
                handled += 1
                if handled == crash_at:
                    print(f"{name}: crashes while doing request {body.decode()}")
                    nursery.cancel_scope.cancel()  # its heartbeats stop too
                    return
                print(f"{name}: does request {body.decode()}")
                await trio.sleep(0.02)  # 'work'; the heartbeats go on meanwhile
                await socket.send_multipart([client, empty, body])
            nursery.cancel_scope.cancel()
        await trio.sleep(HEARTBEAT_INTERVAL)  # before reconnecting


# ----------------------------------------------------------------------
# A Lazy Pirate client


async def client(ctx: trio_zmq.Context) -> None:
    socket = ctx.socket(zmq.REQ)
    socket.connect(FRONTEND)
    try:
        for sequence in range(1, REQUESTS + 1):
            for attempt in range(1, RETRIES + 1):
                await socket.send_string(str(sequence))
                with trio.move_on_after(REQUEST_TIMEOUT):
                    print(f"client: request {await socket.recv_string()} done")
                    break
                print(f"client: no reply to {sequence} (attempt {attempt}), retrying")
                socket.close(linger=0)  # a REQ socket owing a reply cannot send
                socket = ctx.socket(zmq.REQ)
                socket.connect(FRONTEND)
            else:
                print("client: the queue seems to be offline, abandoning")
                return
    finally:
        socket.close(linger=0)


async def main() -> None:
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        await nursery.start(ppqueue, ctx)
        nursery.start_soon(ppworker, ctx, "worker-A", 2)  # crashes on its 2nd request
        nursery.start_soon(ppworker, ctx, "worker-B")
        nursery.start_soon(ppworker, ctx, "worker-C")
        await client(ctx)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
