"""The ZeroMQ Guide's request-reply broker, with clients and workers as Trio tasks.

Clients (REQ) talk to the broker's ROUTER frontend; workers (REP) to its
DEALER backend; the broker is trio_zmq's steerable proxy, which spreads the
requests over the workers and routes every reply back to its client. Once
every client has its replies, the broker reports its statistics and stops.

Run: python examples/rrbroker.py [native|libzmq]
"""

import sys
from functools import partial
from typing import Literal

import trio
import zmq

import trio_zmq

CLIENTS = 4
WORKERS = 3
REQUESTS = 5
Engine = Literal["native", "libzmq"]  # how the proxy runs: Trio tasks, or libzmq's


async def client(ctx: trio_zmq.Context, endpoint: str, name: str) -> None:
    async with ctx.socket(zmq.REQ) as sock:
        sock.connect(endpoint)
        for i in range(REQUESTS):
            await sock.send_string(f"hello {i} from {name}")
            print(f"{name} got: {await sock.recv_string()}")


async def worker(ctx: trio_zmq.Context, endpoint: str, name: str) -> None:
    async with ctx.socket(zmq.REP) as sock:
        sock.connect(endpoint)
        while True:
            request = await sock.recv_string()
            await sock.send_string(f"{name} answers '{request}'")


async def main(engine: Engine = "native") -> None:
    async with trio_zmq.Context() as ctx:
        frontend = ctx.socket(zmq.ROUTER)
        backend = ctx.socket(zmq.DEALER)
        clients_endpoint = frontend.bind("tcp://127.0.0.1:*")
        workers_endpoint = backend.bind("tcp://127.0.0.1:*")
        async with trio.open_nursery() as nursery:
            broker: trio_zmq.ProxyControl = await nursery.start(
                partial(trio_zmq.steerable_proxy, frontend, backend, engine=engine)
            )
            for i in range(WORKERS):
                nursery.start_soon(worker, ctx, workers_endpoint, f"worker-{i}")
            async with trio.open_nursery() as clients:
                for i in range(CLIENTS):
                    clients.start_soon(client, ctx, clients_endpoint, f"client-{i}")
            stats = broker.statistics()
            print(f"broker ({engine}): {stats.frontend.messages_in} frames in from clients,")
            print(f"  {stats.backend.messages_in} frames in from workers")
            nursery.cancel_scope.cancel()  # stops the broker and the workers


if __name__ == "__main__":
    match sys.argv[1:2]:
        case []:
            trio.run(main)
        case ["native" | "libzmq" as engine]:  # the match narrows str to Engine
            trio.run(main, engine)
        case _:
            sys.exit("usage: python examples/rrbroker.py [native|libzmq]")
