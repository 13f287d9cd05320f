"""A pool of worker tasks serving one ROUTER socket through channels.

The server turns its ROUTER into a pair of memory channels with
trio_zmq.open_channels. Each worker task reads requests from its own clone
of the receive channel and sends replies into its own clone of the send
channel, so the pool shares the socket without any locking. A few DEALER
clients send numbered jobs and check the replies, then the program ends.

Run: python examples/worker_pool.py
"""

import trio
import zmq

import trio_zmq

WORKERS = 4
CLIENTS = 3
JOBS_PER_CLIENT = 10


async def worker(
    name: str,
    requests: trio.MemoryReceiveChannel[list[bytes]],
    replies: trio.MemorySendChannel[list[bytes]],
) -> None:
    """Square numbers until the request channel ends."""
    async with requests, replies:
        async for peer, number in requests:
            await trio.sleep(0.001)  # stands for real work
            result = int(number) ** 2
            await replies.send([peer, b"%d" % result, name.encode()])


async def server(
    ctx: trio_zmq.Context, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    async with ctx.socket(zmq.ROUTER) as router:
        endpoint = router.bind("tcp://127.0.0.1:*")
        async with (
            trio_zmq.open_channels(router) as (replies, requests),
            trio.open_nursery() as workers,
        ):
            for i in range(WORKERS):
                workers.start_soon(worker, f"w{i}", requests.clone(), replies.clone())
            task_status.started(endpoint)
            # The workers run until this task is cancelled.


async def client(ctx: trio_zmq.Context, endpoint: str, name: str, served: dict[str, int]) -> None:
    async with ctx.socket(zmq.DEALER) as dealer:
        dealer.connect(endpoint)
        async with trio_zmq.open_channels(dealer) as (send_channel, receive_channel):
            for n in range(JOBS_PER_CLIENT):
                await send_channel.send([b"%d" % n])
            results: list[int] = []
            for _ in range(JOBS_PER_CLIENT):
                result, worker_name = await receive_channel.receive()
                results.append(int(result))
                served[worker_name.decode()] = served.get(worker_name.decode(), 0) + 1
        assert sorted(results) == [n * n for n in range(JOBS_PER_CLIENT)]
        print(f"{name}: {JOBS_PER_CLIENT} jobs done")


async def main() -> None:
    served: dict[str, int] = {}  # worker name -> jobs it did
    async with trio_zmq.Context() as ctx, trio.open_nursery() as nursery:
        endpoint: str = await nursery.start(server, ctx)
        async with trio.open_nursery() as clients:
            for i in range(CLIENTS):
                clients.start_soon(client, ctx, endpoint, f"client {i}", served)
        nursery.cancel_scope.cancel()  # every client is done: stop the server
    print("jobs per worker:", dict(sorted(served.items())))
    assert sum(served.values()) == CLIENTS * JOBS_PER_CLIENT


if __name__ == "__main__":
    trio.run(main)
