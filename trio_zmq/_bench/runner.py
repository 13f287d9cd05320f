"""Running the contenders: fresh processes, side by side, interleaved round by round."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
import zmq

from .workloads import (
    ANYIO,
    ANYIO_SHARE,
    ASYNCIO,
    FLOOR,
    FLOOR_PUMP,
    FLOOR_PUMP_DRAINED,
    PYZMQ,
    Workload,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["AGAINST", "Result", "measure_memory", "measure_stream_growth", "run"]

#: ``--against TREE``: the source tree of another trio_zmq whose workers run
#: beside this one's, as contenders named with this suffix.
AGAINST = " @against"
#: Contenders that do not run trio_zmq, and so get no ``@against`` twin.
_NOT_TRIO_ZMQ = (PYZMQ, ASYNCIO, ANYIO, FLOOR, FLOOR_PUMP, FLOOR_PUMP_DRAINED)


def _contenders(work: Workload, against: str | None) -> tuple[str, ...]:
    """*work*'s contenders, and with ``--against`` a twin of each that runs trio_zmq."""
    if against is None:
        return work.contenders
    others = tuple(c + AGAINST for c in work.contenders if c not in _NOT_TRIO_ZMQ)
    return work.contenders + others


def _spawn(contender: str, against: str | None, *args: str) -> subprocess.Popen[str]:
    env = None
    if contender.endswith(AGAINST):
        # The other tree's trio_zmq (and its worker code) comes first on the path.
        contender = contender.removesuffix(AGAINST)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, (against, os.environ.get("PYTHONPATH")))),
        )
    # Standard input: senders wait for its end before leaving (see workers._hold).
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


def _value(out: str) -> float:
    return float(json.loads(out.strip().splitlines()[-1])["value"])


def _measure(
    contender: str, work: Workload, count: int, timeout: float, against: str | None
) -> float:
    def spawn(*args: str) -> subprocess.Popen[str]:
        return _spawn(contender, against, work.name, *args)

    if work.transport == "inproc":
        proc = spawn("inproc", str(count))
        try:
            out, _ = proc.communicate(timeout=timeout)
        finally:
            _reap([proc])
        return _value(out)
    proxied = work.name.startswith("proxy")
    # The proxy workload: blocking pyzmq at both ends, so that the proxy in
    # the middle is what is measured.
    procs = [
        _spawn(PYZMQ, None, work.name, "recv", str(count)) if proxied else spawn("recv", str(count))
    ]
    try:
        receiver = procs[0]
        assert receiver.stdout is not None
        endpoint = receiver.stdout.readline().strip()
        if proxied:
            procs.append(spawn("proxy", str(count), endpoint))
            assert procs[-1].stdout is not None
            endpoint = procs[-1].stdout.readline().strip()
            procs.append(_spawn(PYZMQ, None, work.name, "send", str(count), endpoint))
        else:
            procs.append(spawn("send", str(count), endpoint))
        sender = procs[-1]
        receiver_out, _ = receiver.communicate(timeout=timeout)
        sender_out, _ = sender.communicate("", timeout=timeout)
    finally:
        _reap(procs)
    return _value(sender_out if work.kind == "latency" else receiver_out)


@dataclass
class Result:
    """One contender's measurements of one workload."""

    workload: str
    title: str
    kind: str
    contender: str
    baseline: str
    values: list[float] = field(default_factory=list)
    stalled: int = 0  # rounds that did not finish within MEASURE_TIMEOUT
    floor: str | None = None  # the contender that is this one's floor, if any

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan


#: Seconds a round may take before it counts as stalled (a lost wake-up, say).
MEASURE_TIMEOUT = 120.0


def _progress(text: str) -> None:
    sys.stderr.write(f"\r\x1b[K{text}")
    sys.stderr.flush()


def run(
    workloads: Sequence[Workload], rounds: int, quick: bool, against: str | None = None
) -> list[Result]:
    """Measure every workload for every contender, interleaved round by round.

    *against*, a source tree, adds a twin of every trio_zmq contender that
    runs that tree's trio_zmq.
    """
    results: dict[tuple[str, str], Result] = {}
    for w in workloads:
        for c in _contenders(w, against):
            floor = w.floor_of(c.removesuffix(AGAINST))
            results[w.name, c] = Result(w.name, w.title, w.kind, c, w.baseline, floor=floor)
    total = len(results) * rounds
    done = 0
    for r in range(rounds):
        for work in workloads:
            names = list(_contenders(work, against))
            shift = r % len(names)
            for contender in names[shift:] + names[:shift]:  # rotate the order
                done += 1
                _progress(f"[{done}/{total}] round {r + 1}/{rounds}: {work.title} - {contender}")
                count = work.quick_count if quick else work.count
                if contender == ANYIO:
                    count //= ANYIO_SHARE
                result = results[work.name, contender]
                try:
                    result.values.append(_measure(contender, work, count, MEASURE_TIMEOUT, against))
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

            async def send_n(n: int) -> None:
                for _ in range(n):
                    await push.send(b"x" * 64)

            async def pump(n: int) -> None:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(send_n, n)
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
