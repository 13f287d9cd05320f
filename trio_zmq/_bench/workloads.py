"""What the benchmark measures: the workloads, and the contenders that run them.

A contender is a name in the table; behind it is a *program* (blocking
pyzmq, or the one async worker run on an async library) and, for the
channel workload, the way the consumer takes messages.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = [
    "ANYIO",
    "ASYNCIO",
    "CHANNELS",
    "CHANNELS_DRAINED",
    "FLOOR",
    "FLOOR_PUMP",
    "FLOOR_PUMP_DRAINED",
    "GOAL_LATENCY",
    "GOAL_THROUGHPUT",
    "LIBZMQ_PROXY",
    "NATIVE_PROXY",
    "PROGRAMS",
    "PYZMQ",
    "TRIO_ZMQ",
    "WORKLOADS",
    "Workload",
    "workload",
]

PYZMQ, TRIO_ZMQ, ASYNCIO, ANYIO = "pyzmq", "trio_zmq", "zmq.asyncio", "zmq-anyio on trio"
#: The Trio floor: raw pyzmq calls and ``wait_readable`` by hand (``floor.py``).
FLOOR = "trio floor"
NATIVE_PROXY, LIBZMQ_PROXY = "proxy native", "proxy libzmq"
CHANNELS, CHANNELS_DRAINED = "channels receive()", "channels drained"
FLOOR_PUMP, FLOOR_PUMP_DRAINED = "floor pump receive()", "floor pump drained"

#: contender -> (library the async worker runs on, how the receiver takes messages).
#: Blocking pyzmq and the proxies are programs of their own.
PROGRAMS = {
    TRIO_ZMQ: ("trio_zmq", "direct"),
    CHANNELS: ("trio_zmq", "receive"),
    CHANNELS_DRAINED: ("trio_zmq", "drain"),
    FLOOR: ("floor", "direct"),
    FLOOR_PUMP: ("floor", "receive"),
    FLOOR_PUMP_DRAINED: ("floor", "drain"),
    ASYNCIO: ("zmq.asyncio", "direct"),
    ANYIO: ("zmq-anyio", "direct"),
}

#: The goals against the floor: trio_zmq's throughput at least this share of
#: the floor's, and its round trip at most this multiple of the floor's.
GOAL_THROUGHPUT, GOAL_LATENCY = 0.95, 1.05

CONTENDERS = (PYZMQ, TRIO_ZMQ, FLOOR, ASYNCIO)
#: zmq-anyio runs where it is installed, on the workloads below, with a tenth
#: of the messages: at its speed the full count would take minutes a round.
WITH_ANYIO = CONTENDERS + ((ANYIO,) if importlib.util.find_spec("zmq_anyio") else ())
ANYIO_SHARE = 10


@dataclass(frozen=True)
class Workload:
    """One thing to measure: what it moves, how, and what each result is compared with."""

    name: str
    title: str
    kind: str  # "throughput" (msg/s, higher is better) or "latency" (us, lower is better)
    transport: str  # "tcp", "ipc", "inproc"
    size: int
    count: int
    quick_count: int
    contenders: tuple[str, ...] = CONTENDERS
    baseline: str = PYZMQ
    #: (contender, its floor) where the floor is not FLOOR.
    floors: tuple[tuple[str, str], ...] = ()

    def floor_of(self, contender: str) -> str | None:
        """The contender that is *contender*'s floor in this workload, if it has one."""
        own = dict(self.floors).get(contender)
        if own is not None:
            return own
        return FLOOR if FLOOR in self.contenders and contender not in _PROXIES else None


_PROXIES = (NATIVE_PROXY, LIBZMQ_PROXY)

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
        contenders=(TRIO_ZMQ, FLOOR, CHANNELS, FLOOR_PUMP, CHANNELS_DRAINED, FLOOR_PUMP_DRAINED),
        baseline=TRIO_ZMQ,
        # The floor of a channel is a pump written by hand over a memory channel.
        floors=((CHANNELS, FLOOR_PUMP), (CHANNELS_DRAINED, FLOOR_PUMP_DRAINED)),
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
        contenders=_PROXIES,
        baseline=NATIVE_PROXY,
    ),
)


def workload(name: str) -> Workload:
    """The workload called *name*."""
    return next(w for w in WORKLOADS if w.name == name)
