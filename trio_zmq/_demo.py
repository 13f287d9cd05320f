"""``trio-zmq demo``: a tour of four ZeroMQ patterns, each played by tasks of one Trio program.

It needs no peer and no network: every socket talks over inproc or ipc, and
it finishes in seconds. It uses trio_zmq's public API only, as a user's
program would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import zmq

import trio_zmq

from ._ipc import ipc_space

if TYPE_CHECKING:
    import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo has no options."""


def _say(text: str = "") -> None:
    print(text, flush=True)


async def run(args: argparse.Namespace) -> None:
    """Play the four patterns, printing what each task does."""
    _say("trio-zmq demo: four ZeroMQ patterns, each played by tasks of one Trio program.")
    with ipc_space("demo") as ipc:
        async with trio_zmq.Context(linger=0) as ctx:
            await _req_rep(ctx, "inproc://demo-greetings")
            await _pub_sub(ctx, ipc("weather"))
            await _fan_out(ctx, "inproc://demo-tasks", "inproc://demo-results")
            await _broker(ctx, ipc("broker"), "inproc://demo-workers")
    _say()
    _say("Done. Every socket was closed and the context terminated on the way out.")
    _say("Next, in two shells:")
    _say("  trio-zmq recv --bind tcp://127.0.0.1:5555")
    _say("  trio-zmq send --connect tcp://127.0.0.1:5555 hello world")


def _heading(number: int, title: str, *endpoints: str) -> None:
    _say()
    _say(f"{number}. {title}")
    _say(f"   over {' and '.join(endpoints)}")


async def _req_rep(ctx: trio_zmq.Context, endpoint: str) -> None:
    _heading(1, "REQ/REP: a client asks, a server answers each request in turn", endpoint)

    async def server(sock: trio_zmq.Socket) -> None:
        async for (request,) in sock:
            _say(f"   server  received {request.decode()!r}, answers {request.upper().decode()!r}")
            await sock.send(request.upper())

    async with (
        ctx.socket(zmq.REP) as rep,
        ctx.socket(zmq.REQ) as req,
        trio.open_nursery() as nursery,
    ):
        rep.bind(endpoint)
        req.connect(endpoint)
        nursery.start_soon(server, rep)
        for word in ("hello", "bonjour", "hola"):
            _say(f"   client  sends    {word!r}")
            await req.send_string(word)
            _say(f"   client  received {await req.recv_string()!r}")
        nursery.cancel_scope.cancel()


async def _pub_sub(ctx: trio_zmq.Context, endpoint: str) -> None:
    _heading(2, "PUB/SUB: a publisher broadcasts, a subscriber filters by topic", endpoint)
    updates = [
        (b"weather.paris", b"12 C, rain"),
        (b"sport.chess", b"1. e4 e5"),
        (b"weather.oslo", b"-3 C, snow"),
        (b"sport.tennis", b"15-0"),
        (b"weather.lima", b"19 C, cloudy"),
    ]
    wanted = [update for update in updates if update[0].startswith(b"weather.")]
    async with ctx.socket(zmq.XPUB) as pub, ctx.socket(zmq.SUB) as sub:
        pub.bind(endpoint)
        sub.subscribe(b"weather.")
        sub.connect(endpoint)
        # An XPUB socket receives the subscriptions: waiting for one means no
        # update is published before the subscriber can get it.
        subscription = await pub.recv()
        _say(f"   publisher sees a subscription to {subscription[1:].decode()!r}")
        for topic, text in updates:
            _say(f"   publisher sends  {topic.decode()}: {text.decode()}")
            await pub.send_multipart([topic, text])
        for _ in wanted:
            topic, text = await sub.recv_multipart()
            _say(f"   subscriber got   {topic.decode()}: {text.decode()}")
        _say("   (the sport updates never left the publisher: nobody subscribed to them)")


async def _fan_out(ctx: trio_zmq.Context, tasks: str, results: str) -> None:
    _heading(
        3, "PUSH/PULL: a ventilator fans work out to three workers, a sink collects", tasks, results
    )

    async def worker(number: int, *, task_status: trio.TaskStatus[None]) -> None:
        async with ctx.socket(zmq.PULL) as inbox, ctx.socket(zmq.PUSH) as outbox:
            inbox.connect(tasks)
            outbox.connect(results)
            task_status.started()
            async for (job,) in inbox:
                n = int(job)
                await outbox.send_string(f"worker {number} squared {n}: {n * n}")

    async with (
        ctx.socket(zmq.PUSH) as ventilator,
        ctx.socket(zmq.PULL) as sink,
        trio.open_nursery() as nursery,
    ):
        ventilator.bind(tasks)
        sink.bind(results)
        for number in range(3):
            await nursery.start(worker, number)
        jobs = range(1, 7)
        _say(f"   ventilator sends {len(jobs)} jobs, round robin over the workers")
        for n in jobs:
            await ventilator.send_string(str(n))
        for _ in jobs:
            _say(f"   sink got  {await sink.recv_string()}")
        nursery.cancel_scope.cancel()


async def _broker(ctx: trio_zmq.Context, front: str, back: str) -> None:
    _heading(4, "ROUTER/DEALER broker: clients and workers meet at a proxy task", front, back)

    async def worker(number: int, *, task_status: trio.TaskStatus[None]) -> None:
        async with ctx.socket(zmq.REP) as sock:
            sock.connect(back)
            task_status.started()
            async for (request,) in sock:
                await sock.send(request + f", done by worker {number}".encode())

    async def client(name: str) -> None:
        async with ctx.socket(zmq.REQ) as sock:
            sock.connect(front)
            for n in range(2):
                await sock.send_string(f"{name} job {n}")
                _say(f"   {name:<5} got {await sock.recv_string()!r}")

    async with (
        ctx.socket(zmq.ROUTER) as frontend,
        ctx.socket(zmq.DEALER) as backend,
        trio.open_nursery() as nursery,
    ):
        frontend.bind(front)
        backend.bind(back)
        await nursery.start(trio_zmq.proxy, frontend, backend)
        _say("   proxy started as a supervised task: await nursery.start(trio_zmq.proxy, ...)")
        for number in range(2):
            await nursery.start(worker, number)
        async with trio.open_nursery() as clients:
            for name in ("alice", "bob"):
                clients.start_soon(client, name)
        nursery.cancel_scope.cancel()
        _say("   proxy cancelled with its nursery; the sockets stay open, the caller's to close")
