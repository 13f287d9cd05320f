"""The side-by-side benchmark: ``trio-zmq bench`` and ``nox -s bench``.

Every contender runs the same workloads in fresh processes, both ends the
same contender, each process pinned to its own core where the machine allows.
Contenders are interleaved round by round so that a noisy neighbour hurts
them all alike, and every figure is reported as the median of the rounds,
with the minimum and maximum, and as a ratio to blocking pyzmq measured in
the same run.

A worker is this module run as a script: ``python -m trio_zmq._bench worker
CONTENDER WORKLOAD ROLE COUNT SIZE [ENDPOINT]``. A receiving worker binds,
prints its endpoint on one line, and later prints one JSON line with its
measurement; a sending worker connects and sends.

asyncio and ``zmq.asyncio`` are imported inside the functions of the
contender that runs on them, so that importing this module (for
``trio-zmq bench``'s options, say) loads neither.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast

import trio
import zmq

from . import _bench_plot
from ._ipc import ipc_space

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["add_arguments", "main", "run_from_arguments"]

PYZMQ, TRIO_ZMQ, ASYNCIO, ANYIO = "pyzmq", "trio_zmq", "zmq.asyncio", "zmq-anyio on trio"
CONTENDERS = (PYZMQ, TRIO_ZMQ, ASYNCIO)
#: zmq-anyio runs where it is installed, on the workloads below, with a tenth
#: of the messages: at its speed the full count would take minutes a round.
WITH_ANYIO = CONTENDERS + ((ANYIO,) if importlib.util.find_spec("zmq_anyio") else ())
_ANYIO_SHARE = 10
NATIVE_PROXY, LIBZMQ_PROXY = "proxy native", "proxy libzmq"
CHANNELS, CHANNELS_DRAINED = "channels receive()", "channels drained"


@dataclass(frozen=True)
class Workload:
    """One thing to measure: what it moves, how, and what higher means."""

    name: str
    title: str
    kind: str  # "throughput" (msg/s, higher is better) or "latency" (us, lower is better)
    transport: str  # "tcp", "ipc", "inproc"
    size: int
    count: int
    quick_count: int
    contenders: tuple[str, ...] = CONTENDERS
    baseline: str = PYZMQ


WORKLOADS = (
    Workload(
        "tcp_64", "PUSH->PULL 64 B, tcp", "throughput", "tcp", 64, 300_000, 60_000, WITH_ANYIO
    ),
    Workload(
        "tcp_64k", "PUSH->PULL 64 KiB, tcp", "throughput", "tcp", 65536, 20_000, 4_000, WITH_ANYIO
    ),
    Workload("ipc_64", "PUSH->PULL 64 B, ipc", "throughput", "ipc", 64, 300_000, 60_000),
    Workload("ipc_64k", "PUSH->PULL 64 KiB, ipc", "throughput", "ipc", 65536, 20_000, 4_000),
    Workload(
        "inproc_64",
        "PUSH->PULL 64 B, inproc (tasks vs threads)",
        "throughput",
        "inproc",
        64,
        300_000,
        60_000,
    ),
    Workload("reqrep", "REQ/REP round trip, tcp", "latency", "tcp", 64, 10_000, 2_000, WITH_ANYIO),
    Workload(
        "fanin_16", "16 senders -> 1 PULL, 64 B, tcp", "throughput", "tcp", 64, 160_000, 32_000
    ),
    Workload(
        "channels",
        "open_channels (buffer 1000) vs direct recv, 64 B, tcp",
        "throughput",
        "tcp",
        64,
        300_000,
        60_000,
        contenders=(TRIO_ZMQ, CHANNELS, CHANNELS_DRAINED),
        baseline=TRIO_ZMQ,
    ),
    # pyzmq PUSH -> [PULL | trio_zmq proxy | PUSH] -> pyzmq PULL, three processes.
    Workload(
        "proxy_64",
        "proxy PULL->PUSH, 64 B, tcp: the two engines",
        "throughput",
        "tcp",
        64,
        300_000,
        60_000,
        contenders=(NATIVE_PROXY, LIBZMQ_PROXY),
        baseline=NATIVE_PROXY,
    ),
)


# ----------------------------------------------------------------------
# Workers: one function per (contender, role); each returns its measurement


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        with contextlib.suppress(OSError):  # containers may refuse
            os.sched_setaffinity(0, {core % (os.cpu_count() or 1)})


def _announce(endpoint: str) -> None:
    print(endpoint, flush=True)


def _pyzmq_worker(work: Workload, role: str, count: int, endpoint: str) -> dict[str, float]:
    ctx = zmq.Context()
    try:
        msg = b"x" * work.size
        if role == "recv":
            kind = zmq.REP if work.kind == "latency" else zmq.PULL
            sock = ctx.socket(kind)
            _announce(_bound(sock, work.transport))
            if work.kind == "latency":
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
        if work.name == "fanin_16":
            socks = [ctx.socket(zmq.PUSH) for _ in range(16)]
            threads = []
            for s in socks:
                s.connect(endpoint)
                t = threading.Thread(target=_send_n, args=(s, msg, count // 16))
                threads.append(t)
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            _hold()
            return {}
        kind = zmq.REQ if work.kind == "latency" else zmq.PUSH
        sock = ctx.socket(kind)
        sock.connect(endpoint)
        if work.kind == "latency":
            sock.send(msg)
            sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                sock.send(msg)
                sock.recv()
            return {"value": (time.perf_counter() - start) / (count - 1) * 1e6}
        if work.name.startswith("proxy"):
            send = zmq.backend.Socket.send
            for _ in range(count):
                send(sock, msg)
        else:
            _send_n(sock, msg, count)
        _hold()
        return {}
    finally:
        ctx.destroy(linger=5000)


def _hold() -> None:
    """Keep a sender's context alive until the runner says the receiver is done.

    Leaving at once would leave the end of the stream to the linger, which
    libzmq's ipc transport does not always honour (libzmq#4660): a slow
    receiver would then wait forever for messages that were dropped.
    """
    sys.stdin.read()


def _send_n(sock: zmq.Socket[Any], msg: bytes, count: int) -> None:
    for _ in range(count):
        sock.send(msg)


_ipc_names = contextlib.ExitStack()
atexit.register(_ipc_names.close)


def _bound(sock: Any, transport: str) -> str:
    if transport == "ipc":
        # The worker's process ends with the round: the space goes with it.
        sock.bind(_ipc_names.enter_context(ipc_space("bench"))("sock"))
    else:
        sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.get(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)


async def _trio_worker(
    work: Workload, role: str, count: int, endpoint: str, channels: str
) -> dict[str, float]:
    import trio_zmq

    msg = b"x" * work.size
    async with trio_zmq.Context(linger=5000) as ctx:
        if role == "recv":
            kind = zmq.REP if work.kind == "latency" else zmq.PULL
            sock = ctx.socket(kind)
            _announce(_bound(sock, work.transport))
            if work.kind == "latency":
                for _ in range(count):
                    await sock.send(await sock.recv())
                return {}
            if channels:
                async with trio_zmq.open_channels(sock, max_buffer_size=1000) as (
                    _,
                    receive_channel,
                ):
                    await receive_channel.receive()
                    start = time.perf_counter()
                    if channels == "drain":
                        # Take what the pump has buffered without a schedule
                        # point each; wait (and let the pump run) when empty.
                        for _ in range(count - 1):
                            try:
                                receive_channel.receive_nowait()
                            except trio.WouldBlock:
                                await receive_channel.receive()
                    else:
                        for _ in range(count - 1):
                            await receive_channel.receive()
                    return {"value": (count - 1) / (time.perf_counter() - start)}
            await sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                await sock.recv()
            return {"value": (count - 1) / (time.perf_counter() - start)}
        if work.name == "fanin_16":
            async with trio.open_nursery() as nursery:
                for _ in range(16):
                    s = ctx.socket(zmq.PUSH)
                    s.connect(endpoint)
                    nursery.start_soon(_trio_send_n, s, msg, count // 16)
            _hold()
            return {}
        kind = zmq.REQ if work.kind == "latency" else zmq.PUSH
        sock = ctx.socket(kind)
        sock.connect(endpoint)
        if work.kind == "latency":
            await sock.send(msg)
            await sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                await sock.send(msg)
                await sock.recv()
            return {"value": (time.perf_counter() - start) / (count - 1) * 1e6}
        await _trio_send_n(sock, msg, count)
        _hold()
        return {}


async def _trio_proxy_worker(engine: Literal["native", "libzmq"], backend_endpoint: str) -> None:
    """Forward from a bound PULL to a PUSH connected to *backend_endpoint*, until killed."""
    import trio_zmq

    async with trio_zmq.Context(linger=0) as ctx:
        frontend = ctx.socket(zmq.PULL)
        backend = ctx.socket(zmq.PUSH)
        backend.connect(backend_endpoint)
        endpoint = _bound(frontend, "tcp")
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio_zmq.proxy, frontend, backend, engine=engine))
            _announce(endpoint)


async def _trio_send_n(sock: Any, msg: bytes, count: int) -> None:
    for _ in range(count):
        await sock.send(msg)


async def _asyncio_worker(work: Workload, role: str, count: int, endpoint: str) -> dict[str, float]:
    import asyncio

    import zmq.asyncio

    ctx = zmq.asyncio.Context()
    try:
        msg = b"x" * work.size
        if role == "recv":
            kind = zmq.REP if work.kind == "latency" else zmq.PULL
            sock = ctx.socket(kind)
            _announce(_bound(sock, work.transport))
            if work.kind == "latency":
                for _ in range(count):
                    await sock.send(await sock.recv())
                return {}
            await sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                await sock.recv()
            return {"value": (count - 1) / (time.perf_counter() - start)}
        if work.name == "fanin_16":
            socks = [ctx.socket(zmq.PUSH) for _ in range(16)]
            for s in socks:
                s.connect(endpoint)
            await asyncio.gather(*(_asyncio_send_n(s, msg, count // 16) for s in socks))
            _hold()
            return {}
        kind = zmq.REQ if work.kind == "latency" else zmq.PUSH
        sock = ctx.socket(kind)
        sock.connect(endpoint)
        if work.kind == "latency":
            await sock.send(msg)
            await sock.recv()
            start = time.perf_counter()
            for _ in range(count - 1):
                await sock.send(msg)
                await sock.recv()
            return {"value": (time.perf_counter() - start) / (count - 1) * 1e6}
        await _asyncio_send_n(sock, msg, count)
        _hold()
        return {}
    finally:
        ctx.destroy(linger=5000)


async def _asyncio_send_n(sock: Any, msg: bytes, count: int) -> None:
    for _ in range(count):
        await sock.send(msg)


async def _anyio_worker(work: Workload, role: str, count: int, endpoint: str) -> dict[str, float]:
    """zmq-anyio, the AnyIO wrapper of pyzmq, running on Trio."""
    import zmq_anyio  # type: ignore[import-not-found, unused-ignore]  # optional

    ctx = zmq.Context()
    latency = work.kind == "latency"
    try:
        msg = b"x" * work.size
        if role == "recv":
            raw = ctx.socket(zmq.REP if latency else zmq.PULL)
            _announce(_bound(raw, work.transport))
            async with zmq_anyio.Socket(raw) as sock:
                if latency:
                    for _ in range(count):
                        await sock.asend(cast("bytes", await sock.arecv()))
                    return {}
                await sock.arecv()
                start = time.perf_counter()
                for _ in range(count - 1):
                    await sock.arecv()
                return {"value": (count - 1) / (time.perf_counter() - start)}
        raw = ctx.socket(zmq.REQ if latency else zmq.PUSH)
        raw.connect(endpoint)
        async with zmq_anyio.Socket(raw) as sock:
            if latency:
                await sock.asend(msg)
                await sock.arecv()
                start = time.perf_counter()
                for _ in range(count - 1):
                    await sock.asend(msg)
                    await sock.arecv()
                return {"value": (time.perf_counter() - start) / (count - 1) * 1e6}
            for _ in range(count):
                await sock.asend(msg)
            _hold()
        return {}
    finally:
        ctx.destroy(linger=5000)


def _run_worker(contender: str, work: Workload, role: str, count: int, endpoint: str) -> None:
    if role == "proxy":  # a third process: left to the scheduler, on either core
        trio.run(_trio_proxy_worker, "libzmq" if contender == LIBZMQ_PROXY else "native", endpoint)
        return
    _pin(0 if role == "recv" else 1)
    if contender == PYZMQ:
        result = _pyzmq_worker(work, role, count, endpoint)
    elif contender == ASYNCIO:
        import asyncio  # here, so that only the asyncio contender's processes load it

        result = asyncio.run(_asyncio_worker(work, role, count, endpoint))
    elif contender == ANYIO:
        result = trio.run(_anyio_worker, work, role, count, endpoint)
    else:
        channels = {CHANNELS: "receive", CHANNELS_DRAINED: "drain"}.get(contender, "")
        result = trio.run(_trio_worker, work, role, count, endpoint, channels)
    print(json.dumps(result), flush=True)


# ----------------------------------------------------------------------
# inproc: one process, two tasks (or two threads for blocking pyzmq)


def _inproc(contender: str, work: Workload, count: int) -> float:
    msg = b"x" * work.size
    name = f"inproc://bench-{os.getpid()}-{time.monotonic_ns()}"
    if contender == PYZMQ:
        ctx = zmq.Context()
        pull = ctx.socket(zmq.PULL)
        pull.bind(name)
        push = ctx.socket(zmq.PUSH)
        push.connect(name)
        sender = threading.Thread(target=_send_n, args=(push, msg, count))
        start = time.perf_counter()
        sender.start()
        for _ in range(count):
            pull.recv()
        elapsed = time.perf_counter() - start
        sender.join()
        ctx.destroy(linger=0)
        return count / elapsed
    if contender == ASYNCIO:
        import asyncio

        return asyncio.run(_asyncio_inproc(name, msg, count))
    return trio.run(_trio_inproc, name, msg, count)


async def _trio_inproc(name: str, msg: bytes, count: int) -> float:
    import trio_zmq

    async with trio_zmq.Context(linger=0) as ctx:
        pull = ctx.socket(zmq.PULL)
        pull.bind(name)
        push = ctx.socket(zmq.PUSH)
        push.connect(name)
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_trio_send_n, push, msg, count)
            for _ in range(count):
                await pull.recv()
        return count / (time.perf_counter() - start)


async def _asyncio_inproc(name: str, msg: bytes, count: int) -> float:
    import asyncio

    import zmq.asyncio

    ctx = zmq.asyncio.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind(name)
    push = ctx.socket(zmq.PUSH)
    push.connect(name)
    start = time.perf_counter()
    sender = asyncio.ensure_future(_asyncio_send_n(push, msg, count))
    for _ in range(count):
        await pull.recv()
    await sender
    elapsed = time.perf_counter() - start
    ctx.destroy(linger=0)
    return count / elapsed


def _run_inproc_worker(contender: str, work: Workload, count: int) -> None:
    print(json.dumps({"value": _inproc(contender, work, count)}), flush=True)


# ----------------------------------------------------------------------
# The runner


#: ``--against TREE``: the source tree of another trio_zmq whose workers run
#: beside this one's, as contenders named with this suffix.
_AGAINST = " @against"
_against_tree: str | None = None


def _contenders(work: Workload) -> tuple[str, ...]:
    """*work*'s contenders, and with ``--against`` a twin of each that runs trio_zmq."""
    if _against_tree is None:
        return work.contenders
    others = tuple(c + _AGAINST for c in work.contenders if c not in (PYZMQ, ASYNCIO, ANYIO))
    return work.contenders + others


def _spawn(contender: str, *args: str) -> subprocess.Popen[str]:
    env = None
    if contender.endswith(_AGAINST):
        # The other tree's trio_zmq (and its worker code) comes first on the path.
        contender = contender.removesuffix(_AGAINST)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, (_against_tree, os.environ.get("PYTHONPATH")))),
        )
    # Standard input: senders wait for its end before leaving (see _hold).
    return subprocess.Popen(
        [sys.executable, "-m", "trio_zmq._bench", "worker", contender, *args],
        stdin=subprocess.PIPE if args[1] == "send" else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _reap(procs: Sequence[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _measure_proxy(contender: str, work: Workload, count: int, timeout: float) -> float:
    """Blocking pyzmq at both ends, so that the proxy in the middle is what is measured."""
    procs = [_spawn(PYZMQ, work.name, "recv", str(count))]
    try:
        receiver = procs[0]
        assert receiver.stdout is not None
        proxy = _spawn(
            contender, work.name, "proxy", str(count), receiver.stdout.readline().strip()
        )
        procs.append(proxy)
        assert proxy.stdout is not None
        procs.append(_spawn(PYZMQ, work.name, "send", str(count), proxy.stdout.readline().strip()))
        receiver_out, _ = receiver.communicate(timeout=timeout)
        procs[2].communicate("", timeout=timeout)
    finally:
        _reap(procs)
    return float(json.loads(receiver_out.strip().splitlines()[-1])["value"])


#: Seconds a round may take before it counts as stalled (a lost wake-up, say).
_MEASURE_TIMEOUT = 120.0


def _measure(contender: str, work: Workload, count: int, timeout: float) -> float:
    if work.name.startswith("proxy"):
        return _measure_proxy(contender, work, count, timeout)
    if work.transport == "inproc":
        proc = _spawn(contender, work.name, "inproc", str(count))
        try:
            out, _ = proc.communicate(timeout=timeout)
        finally:
            _reap([proc])
        return float(json.loads(out.strip().splitlines()[-1])["value"])
    receiver = _spawn(contender, work.name, "recv", str(count))
    sender: subprocess.Popen[str] | None = None
    try:
        assert receiver.stdout is not None
        endpoint = receiver.stdout.readline().strip()
        sender = _spawn(contender, work.name, "send", str(count), endpoint)
        receiver_out, _ = receiver.communicate(timeout=timeout)
        sender_out, _ = sender.communicate("", timeout=timeout)
    finally:
        _reap([receiver] if sender is None else [receiver, sender])
    source = sender_out if work.kind == "latency" else receiver_out
    return float(json.loads(source.strip().splitlines()[-1])["value"])


@dataclass
class Result:
    workload: str
    title: str
    kind: str
    contender: str
    baseline: str
    values: list[float] = field(default_factory=list)

    stalled: int = 0  # rounds that did not finish within _MEASURE_TIMEOUT

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan


def _progress(text: str) -> None:
    sys.stderr.write(f"\r\x1b[K{text}")
    sys.stderr.flush()


def run(workloads: Sequence[Workload], rounds: int, quick: bool) -> list[Result]:
    """Measure every workload for every contender, interleaved round by round."""
    results = {
        (w.name, c): Result(w.name, w.title, w.kind, c, w.baseline)
        for w in workloads
        for c in _contenders(w)
    }
    total = len(results) * rounds
    done = 0
    for r in range(rounds):
        for work in workloads:
            names = [c for c in _contenders(work) if (work.name, c) in results]
            shift = r % len(names)
            for contender in names[shift:] + names[:shift]:  # rotate the order
                done += 1
                _progress(f"[{done}/{total}] round {r + 1}/{rounds}: {work.title} - {contender}")
                count = work.quick_count if quick else work.count
                if contender == ANYIO:
                    count //= _ANYIO_SHARE
                result = results[work.name, contender]
                try:
                    result.values.append(_measure(contender, work, count, _MEASURE_TIMEOUT))
                except subprocess.TimeoutExpired:
                    result.stalled += 1  # reported, not fatal: the other contenders go on
    _progress("")
    return list(results.values())


def measure_memory(sockets: int = 10_000) -> dict[str, float]:
    """Python memory of an idle trio_zmq socket beyond pyzmq's own, in bytes."""
    import trio_zmq

    def per_socket(make: Callable[[], Any]) -> float:
        # In batches: every ZeroMQ socket holds a file descriptor.
        batch, total = 500, 0
        for _ in range(max(1, sockets // batch)):
            made = [make() for _ in range(10)]  # warm caches up
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            made += [make() for _ in range(batch)]
            total += tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            for s in made:
                s.close(linger=0)
        return total / (max(1, sockets // batch) * batch)

    zctx = zmq.Context()
    ctx = trio_zmq.Context.from_context(zctx, linger=0)
    try:
        plain = per_socket(lambda: zctx.socket(zmq.DEALER))
        wrapped = per_socket(lambda: ctx.socket(zmq.DEALER))
    finally:
        ctx.destroy()
        zctx.term()
    return {"pyzmq_bytes": plain, "trio_zmq_bytes": wrapped, "extra_bytes": wrapped - plain}


def measure_stream_growth(messages: int) -> float:
    """Bytes of Python memory still held after a long stream, per 1M messages."""

    async def stream() -> float:
        import trio_zmq

        async with trio_zmq.Context(linger=0) as ctx:
            pull = ctx.socket(zmq.PULL)
            pull.bind("inproc://bench-growth")
            push = ctx.socket(zmq.PUSH)
            push.connect("inproc://bench-growth")

            async def pump(n: int) -> None:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_trio_send_n, push, b"x" * 64, n)
                    for _ in range(n):
                        await pull.recv()

            await pump(10_000)  # warm up
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            await pump(messages)
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            return (after - before) * 1_000_000 / messages

    return trio.run(stream)


def _format_value(kind: str, value: float) -> str:
    if kind == "latency":
        return f"{value:8.1f} us"
    if value >= 1e6:
        return f"{value / 1e6:7.2f}M/s"
    return f"{value / 1e3:7.1f}k/s"


def report(results: Sequence[Result]) -> str:
    """The results as a table: medians, min/max, ratio to each workload's baseline."""
    lines = [
        f"{'workload':52} {'contender':27} {'median':>11} {'min':>11} {'max':>11} {'ratio':>7}",
        "-" * 125,
    ]
    medians = {(r.workload, r.contender): r.median for r in results}
    for r in results:
        if not r.values:
            lines.append(f"{r.title:52} {r.contender:27} {'stalled in every round':>35}")
            continue
        base = medians.get((r.workload, r.baseline))
        ratio = "" if base is None or math.isnan(base) else f"{r.median / base:6.2f}x"
        if r.stalled:
            ratio += f"  ({r.stalled} round(s) stalled)"
        lines.append(
            f"{r.title:52} {r.contender:27} {_format_value(r.kind, r.median):>11} "
            f"{_format_value(r.kind, min(r.values)):>11} {_format_value(r.kind, max(r.values)):>11} "
            f"{ratio:>7}"
        )
    lines.append(
        "ratio: median / the baseline's median (blocking pyzmq, or direct trio_zmq for channels);"
        " for latency, above 1 is slower"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, on *parser* (``trio-zmq bench`` and this module's own)."""
    parser.add_argument(
        "--quick", action="store_true", help="small counts, 2 rounds: under a minute"
    )
    parser.add_argument("--rounds", type=int, help="rounds per contender (default 5, quick 2)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORKLOAD",
        choices=[w.name for w in WORKLOADS],
        help=f"run only this workload (repeatable): {', '.join(w.name for w in WORKLOADS)}",
    )
    parser.add_argument("--json", default="bench-results.json", help="where to write the results")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw a chart of every workload's ratios per contender into FILE "
        "(.svg, .png or .pdf; needs matplotlib: pip install 'trio-zmq[bench]')",
    )
    parser.add_argument(
        "--from-json",
        metavar="RESULTS",
        help="measure nothing: print the table (and draw --plot) from the RESULTS file "
        "of an earlier run",
    )
    parser.add_argument(
        "--against",
        metavar="TREE",
        help="also run another trio_zmq, from the source tree TREE (a checkout's root), "
        f"as contenders named '...{_AGAINST}': before and after a change, in one run",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark as ``python -m trio_zmq._bench``."""
    parser = argparse.ArgumentParser(prog="trio-zmq bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_arguments(parser.parse_args(argv))


def _versions() -> str:
    return (
        f"Python {sys.version.split()[0]}, trio {trio.__version__}, "
        f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}"
    )


def _replot(args: argparse.Namespace) -> int:
    """``--from-json``: the table, and the chart if asked for, from saved results."""
    with open(args.from_json) as f:
        saved = json.load(f)
    fields = {"workload", "title", "kind", "contender", "baseline", "values", "stalled"}
    results = [Result(**{k: v for k, v in r.items() if k in fields}) for r in saved["results"]]
    print(report(results))
    if args.plot:
        versions = saved.get("versions", {})
        subtitle = ", ".join(f"{name} {version}" for name, version in versions.items())
        _bench_plot.plot(saved["results"], args.plot, subtitle, _AGAINST)
        print(f"chart written to {args.plot}")
    return 0


def run_from_arguments(args: argparse.Namespace) -> int:
    """``trio-zmq bench``: run the benchmark, print the table, write JSON; 0 on success."""
    global _against_tree  # read by the runner's helpers, set once per run
    if args.plot:
        _bench_plot.check_available()  # before any measuring
    if args.from_json:
        return _replot(args)
    _against_tree = os.path.abspath(args.against) if args.against else None
    rounds = args.rounds or (2 if args.quick else 5)
    workloads = [w for w in WORKLOADS if not args.only or w.name in args.only]
    started = time.perf_counter()
    results = run(workloads, rounds, args.quick)
    print(report(results))
    memory = measure_memory(2_000 if args.quick else 10_000)
    growth = measure_stream_growth(100_000 if args.quick else 1_000_000)
    print(
        f"memory: an idle trio_zmq socket costs {memory['extra_bytes']:.0f} B of Python memory "
        f"beyond pyzmq's own ({memory['trio_zmq_bytes']:.0f} B vs {memory['pyzmq_bytes']:.0f} B); "
        f"a stream of messages keeps {growth:.0f} B per million"
    )
    print(f"took {time.perf_counter() - started:.0f} s")
    with open(args.json, "w") as f:
        json.dump(
            {
                "results": [asdict(r) | {"median": r.median} for r in results],
                "memory": memory,
                "stream_growth_bytes_per_million": growth,
                "versions": {
                    "pyzmq": zmq.__version__,
                    "libzmq": zmq.zmq_version(),
                    "trio": trio.__version__,
                },
            },
            f,
            indent=2,
        )
    print(f"results written to {args.json}")
    if args.plot:
        _bench_plot.plot(
            [asdict(r) | {"median": r.median} for r in results], args.plot, _versions()
        )
        print(f"chart written to {args.plot}")
    return 0


def _worker_main(argv: Sequence[str]) -> None:
    contender, name, role, count, *rest = argv
    work = next(w for w in WORKLOADS if w.name == name)
    if role == "inproc":
        _run_inproc_worker(contender, work, int(count))
    else:
        _run_worker(contender, work, role, int(count), rest[0] if rest else "")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker_main(sys.argv[2:])
    else:
        sys.exit(main())
