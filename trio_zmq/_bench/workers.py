"""The programs the benchmark runs: blocking pyzmq, and one async worker for every library.

A worker is a process: ``python -m trio_zmq._bench worker CONTENDER WORKLOAD
ROLE COUNT [ENDPOINT]``. A receiving worker binds, prints its endpoint on one
line, and later prints one JSON line with its measurement; a sending worker
connects and sends. An inproc worker is both ends in one process.

trio_zmq, ``zmq.asyncio``, zmq-anyio and the Trio floor run the same async
program, :func:`async_worker`; a :class:`Library` says how each makes a
socket, runs tasks side by side, and starts its event loop. asyncio and
``zmq.asyncio`` are imported only by the process that runs on them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

import trio
import zmq

from .._ipc import ipc_space
from .floor import FloorSocket, open_pump
from .workloads import LIBZMQ_PROXY, PROGRAMS, PYZMQ, Workload, workload

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from contextlib import AbstractAsyncContextManager

__all__ = ["LIBRARIES", "Library", "async_worker", "worker_main"]

Measurement = dict[str, float]


class Ends(Protocol):
    """What the async worker calls on a socket: an awaitable ``send`` and ``recv``."""

    def send(self, msg: bytes, /) -> Awaitable[Any]: ...
    def recv(self) -> Awaitable[Any]: ...


class OpenSocket(Protocol):
    """Make a socket of *kind* that binds to *bind* (a transport) or connects to *connect*.

    Returns the socket and its endpoint.
    """

    def __call__(
        self, kind: int, *, bind: str = "", connect: str = ""
    ) -> Awaitable[tuple[Ends, str]]: ...


@dataclass(frozen=True)
class Library:
    """What :func:`async_worker` needs from an async library and its ZeroMQ binding."""

    #: Start the event loop and run the worker in it.
    run: Callable[[Callable[[], Awaitable[Measurement]]], Measurement]
    #: A context's lifetime, yielding its :class:`OpenSocket`.
    sockets: Callable[[], AbstractAsyncContextManager[OpenSocket]]
    #: Run the functions as concurrent tasks, until all of them are done.
    together: Callable[[Sequence[Callable[[], Awaitable[None]]]], Awaitable[None]]
    #: The socket's messages through a memory channel of the given size, if
    #: the library has one.
    channel: (
        Callable[[Any, int], AbstractAsyncContextManager[trio.MemoryReceiveChannel[Any]]] | None
    ) = None


# ----------------------------------------------------------------------
# The one async program


async def async_worker(
    lib: Library, mode: str, work: Workload, role: str, count: int, endpoint: str
) -> Measurement:
    """One end of *work* (or both, inproc), on *lib*; *mode* is how a receiver takes messages."""
    msg = b"x" * work.size
    latency = work.kind == "latency"
    async with lib.sockets() as socket:
        if work.transport == "inproc":
            pull, name = await socket(zmq.PULL, bind="inproc")
            push, _ = await socket(zmq.PUSH, connect=name)
            start = time.perf_counter()
            await lib.together([partial(_send_n, push, msg, count), partial(_recv_n, pull, count)])
            return {"value": count / (time.perf_counter() - start)}
        if role == "recv":
            sock, bound = await socket(zmq.REP if latency else zmq.PULL, bind=work.transport)
            _announce(bound)
            if latency:
                for _ in range(count):
                    await sock.send(await sock.recv())
                return {}
            if mode != "direct":
                assert lib.channel is not None
                async with lib.channel(sock, 1000) as channel:
                    return {"value": await _take(channel, count, drain=mode == "drain")}
            await sock.recv()
            start = time.perf_counter()
            await _recv_n(sock, count - 1)
            return {"value": (count - 1) / (time.perf_counter() - start)}
        if latency:
            sock, _ = await socket(zmq.REQ, connect=endpoint)
            await sock.send(msg)
            await sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                await sock.send(msg)
                await sock.recv()
            return {"value": (time.perf_counter() - start) / (count - 1) * 1e6}
        senders = 16 if work.name == "fanin_16" else 1
        socks = [(await socket(zmq.PUSH, connect=endpoint))[0] for _ in range(senders)]
        await lib.together([partial(_send_n, s, msg, count // senders) for s in socks])
        _hold()
        return {}


async def _send_n(sock: Ends, msg: bytes, count: int) -> None:
    for _ in range(count):
        await sock.send(msg)


async def _recv_n(sock: Ends, count: int) -> None:
    for _ in range(count):
        await sock.recv()


async def _take(channel: trio.MemoryReceiveChannel[Any], count: int, *, drain: bool) -> float:
    """Receive *count* messages from *channel*; the rate after the first."""
    await channel.receive()
    start = time.perf_counter()
    if drain:
        # Take what the pump has buffered without a schedule point each; wait
        # (and let the pump run) when it is empty.
        for _ in range(count - 1):
            try:
                channel.receive_nowait()
            except trio.WouldBlock:
                await channel.receive()
    else:
        for _ in range(count - 1):
            await channel.receive()
    return (count - 1) / (time.perf_counter() - start)


# ----------------------------------------------------------------------
# The libraries


def _attach(sock: Any, bind: str, connect: str) -> str:
    if not bind:
        sock.connect(connect)
        return connect
    if bind == "ipc":
        # The worker's process ends with the round: the space goes with it.
        sock.bind(_ipc_names.enter_context(ipc_space("bench"))("sock"))
    elif bind == "inproc":
        sock.bind(f"inproc://bench-{os.getpid()}-{time.monotonic_ns()}")
    else:
        sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.get(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)


_ipc_names = contextlib.ExitStack()
atexit.register(_ipc_names.close)


@asynccontextmanager
async def _trio_zmq_sockets() -> AsyncIterator[OpenSocket]:
    import trio_zmq

    async with trio_zmq.Context(linger=5000) as ctx:

        async def socket(kind: int, *, bind: str = "", connect: str = "") -> tuple[Ends, str]:
            sock = ctx.socket(kind)
            return sock, _attach(sock, bind, connect)

        yield socket


@asynccontextmanager
async def _trio_zmq_channel(sock: Any, size: int) -> AsyncIterator[trio.MemoryReceiveChannel[Any]]:
    import trio_zmq

    async with trio_zmq.open_channels(sock, max_buffer_size=size) as (_, receive_channel):
        yield receive_channel


@asynccontextmanager
async def _floor_sockets() -> AsyncIterator[OpenSocket]:
    ctx = zmq.Context()
    try:

        async def socket(kind: int, *, bind: str = "", connect: str = "") -> tuple[Ends, str]:
            sock = ctx.socket(kind)
            return FloorSocket(sock), _attach(sock, bind, connect)

        yield socket
    finally:
        ctx.destroy(linger=5000)


@asynccontextmanager
async def _asyncio_sockets() -> AsyncIterator[OpenSocket]:
    import zmq.asyncio

    ctx = zmq.asyncio.Context()
    try:

        async def socket(kind: int, *, bind: str = "", connect: str = "") -> tuple[Ends, str]:
            sock = ctx.socket(kind)
            return sock, _attach(sock, bind, connect)

        yield socket
    finally:
        ctx.destroy(linger=5000)


class _AnyioEnds:
    def __init__(self, sock: Any) -> None:
        self.send, self.recv = sock.asend, sock.arecv


@asynccontextmanager
async def _anyio_sockets() -> AsyncIterator[OpenSocket]:
    """zmq-anyio, the AnyIO wrapper of pyzmq (here on Trio): a wrapper per socket."""
    import zmq_anyio  # type: ignore[import-not-found, unused-ignore]  # optional

    ctx = zmq.Context()
    try:
        async with contextlib.AsyncExitStack() as stack:

            async def socket(kind: int, *, bind: str = "", connect: str = "") -> tuple[Ends, str]:
                raw = ctx.socket(kind)
                endpoint = _attach(raw, bind, connect)
                wrapped = await stack.enter_async_context(zmq_anyio.Socket(raw))
                return _AnyioEnds(wrapped), endpoint

            yield socket
    finally:
        ctx.destroy(linger=5000)


def _trio_run(main: Callable[[], Awaitable[Measurement]]) -> Measurement:
    return trio.run(main)


async def _trio_together(fns: Sequence[Callable[[], Awaitable[None]]]) -> None:
    async with trio.open_nursery() as nursery:
        for fn in fns:
            nursery.start_soon(fn)


def _asyncio_run(main: Callable[[], Awaitable[Measurement]]) -> Measurement:
    import asyncio

    async def run() -> Measurement:
        return await main()

    return asyncio.run(run())


async def _asyncio_together(fns: Sequence[Callable[[], Awaitable[None]]]) -> None:
    import asyncio

    await asyncio.gather(*(fn() for fn in fns))


LIBRARIES = {
    "trio_zmq": Library(_trio_run, _trio_zmq_sockets, _trio_together, _trio_zmq_channel),
    "floor": Library(_trio_run, _floor_sockets, _trio_together, open_pump),
    "zmq.asyncio": Library(_asyncio_run, _asyncio_sockets, _asyncio_together),
    "zmq-anyio": Library(_trio_run, _anyio_sockets, _trio_together),
}


# ----------------------------------------------------------------------
# Blocking pyzmq: threads where the others have tasks


def _pyzmq_worker(work: Workload, role: str, count: int, endpoint: str) -> Measurement:
    ctx = zmq.Context()
    try:
        msg = b"x" * work.size
        latency = work.kind == "latency"
        if work.transport == "inproc":
            pull = ctx.socket(zmq.PULL)
            push = ctx.socket(zmq.PUSH)
            push.connect(_attach(pull, "inproc", ""))
            sender = threading.Thread(target=_send_n_blocking, args=(push, msg, count))
            start = time.perf_counter()
            sender.start()
            for _ in range(count):
                pull.recv()
            elapsed = time.perf_counter() - start
            sender.join()
            return {"value": count / elapsed}
        if role == "recv":
            sock = ctx.socket(zmq.REP if latency else zmq.PULL)
            _announce(_attach(sock, work.transport, ""))
            if latency:
                for _ in range(count):
                    sock.send(sock.recv())
                return {}
            # The proxy's ends call libzmq as directly as Python can, so that
            # the proxy in the middle, not the ends, sets the pace.
            recv = zmq.backend.Socket.recv if work.name.startswith("proxy") else type(sock).recv
            recv(sock)
            start = time.perf_counter()
            for _ in range(count - 1):
                recv(sock)
            return {"value": (count - 1) / (time.perf_counter() - start)}
        if latency:
            sock = ctx.socket(zmq.REQ)
            sock.connect(endpoint)
            sock.send(msg)
            sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                sock.send(msg)
                sock.recv()
            return {"value": (time.perf_counter() - start) / (count - 1) * 1e6}
        senders = 16 if work.name == "fanin_16" else 1
        threads = []
        for _ in range(senders):
            sock = ctx.socket(zmq.PUSH)
            sock.connect(endpoint)
            send = zmq.backend.Socket.send if work.name.startswith("proxy") else type(sock).send
            threads.append(
                threading.Thread(target=_send_n_blocking, args=(sock, msg, count // senders, send))
            )
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _hold()
        return {}
    finally:
        ctx.destroy(linger=5000)


def _send_n_blocking(
    sock: zmq.Socket[Any], msg: bytes, count: int, send: Callable[..., Any] = zmq.Socket.send
) -> None:
    for _ in range(count):
        send(sock, msg)


# ----------------------------------------------------------------------
# The proxy in the middle (pyzmq at both ends)


async def _proxy_worker(engine: Literal["native", "libzmq"], backend_endpoint: str) -> None:
    """Forward from a bound PULL to a PUSH connected to *backend_endpoint*, until killed."""
    import trio_zmq

    async with trio_zmq.Context(linger=0) as ctx:
        frontend = ctx.socket(zmq.PULL)
        backend = ctx.socket(zmq.PUSH)
        backend.connect(backend_endpoint)
        endpoint = _attach(frontend, "tcp", "")
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine=engine))
            _announce(endpoint)


# ----------------------------------------------------------------------
# The process


def _pin(core: int, *, batch: bool) -> None:
    """Pin this process to *core*; with *batch*, also run it as a batch job.

    Called before any context exists, so libzmq's I/O thread, started with
    the first socket, inherits both the core and the policy. Why a
    throughput worker is a batch job (``SCHED_BATCH``: its wake-ups do not
    preempt the thread that runs): see "The 64 KiB figure" on the
    performance page. A round trip is all wake-ups, so its workers keep the
    default policy.
    """
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        with contextlib.suppress(OSError):  # containers may refuse
            os.sched_setaffinity(0, {core % (os.cpu_count() or 1)})
    if batch and hasattr(os, "SCHED_BATCH"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _announce(endpoint: str) -> None:
    print(endpoint, flush=True)


def _hold() -> None:
    """Keep a sender's context alive until the runner says the receiver is done.

    Leaving at once would leave the end of the stream to the linger, which
    libzmq's ipc transport does not always honour (libzmq#4660): a slow
    receiver would then wait forever for messages that were dropped.
    """
    sys.stdin.read()


def worker_main(argv: Sequence[str]) -> None:
    """Run one worker: ``CONTENDER WORKLOAD ROLE COUNT [ENDPOINT]``."""
    contender, name, role, count_text, *rest = argv
    work, count, endpoint = workload(name), int(count_text), rest[0] if rest else ""
    if role == "proxy":  # a third process: left to the scheduler, on either core
        engine: Literal["native", "libzmq"] = "libzmq" if contender == LIBZMQ_PROXY else "native"
        trio.run(_proxy_worker, engine, endpoint)
        return
    if role != "inproc":  # inproc: one process, left to the scheduler
        _pin(0 if role == "recv" else 1, batch=work.kind == "throughput")
    if contender == PYZMQ:
        result = _pyzmq_worker(work, role, count, endpoint)
    else:
        library, mode = PROGRAMS[contender]
        lib = LIBRARIES[library]
        result = lib.run(partial(async_worker, lib, mode, work, role, count, endpoint))
    print(json.dumps(result), flush=True)
