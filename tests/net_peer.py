"""Peer programs for the network tests, run in a namespace by ``netlab.start_peer``.

``python net_peer.py ROLE CONFIG_JSON``. A peer talks to the test over its
stdin and stdout, one JSON object a line, never over the network under
test: it prints ``{"event": "ready", ...}`` once its sockets are set up,
answers commands (``{"cmd": "report"}``, ...) with ``{"reply": CMD, ...}``,
and exits on ``{"cmd": "exit"}`` or at the end of its input. It dies with
the thread that started it (``PR_SET_PDEATHSIG``), so a crashed test leaves
no peer behind, and after MAX_LIFETIME seconds whatever happens. Anything
else it prints goes to stderr, out of the way of the JSON lines.

Roles, all blocking pyzmq unless said otherwise:

* ``stream``: sockets that are sources (numbered messages, paced), sinks
  (checked by a :class:`Tally`), or both (a ROUTER or DEALER).
* ``ppworker``: a Paranoid Pirate worker (the protocol of
  ``examples/ppqueue.py``), which reconnects when the queue falls silent.
* ``ppworker-example``: ``examples/ppqueue.py``'s own worker, on trio_zmq.
* ``storm``: many DEALER peers that reconnect at random, each checking that
  every request it still waits for is answered.

The message format and :class:`Tally` are imported by the tests too.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import random
import signal
import struct
import sys
import time
from pathlib import Path
from typing import IO, Any

import zmq

_SEQ = struct.Struct(">Q")
MAX_LIFETIME = 600  # seconds
_out: IO[str] = sys.stdout  # the JSON lines; set apart from sys.stdout by main()


def message(sender: bytes, seq: int, size: int) -> list[bytes]:
    """Message *seq* of *sender*: ``[sender, seq (8 bytes), body of size bytes]``.

    The body repeats ``sender:seq``, so a receiver can check that a message
    is whole and was not mixed up with another.
    """
    return [sender, _SEQ.pack(seq), _body(sender, seq, size)]


def _body(sender: bytes, seq: int, size: int) -> bytes:
    unit = sender + b":" + _SEQ.pack(seq)
    return (unit * (size // len(unit) + 1))[:size]


def wire_size(sender: bytes, size: int) -> int:
    """Bytes a :func:`message` takes on a ZMTP 3 connection (frame headers included)."""
    return sum((2 if n < 256 else 9) + n for n in (len(sender), _SEQ.size, size))


class Tally:
    """What a receiver saw of numbered messages: whole, in order, once.

    Per sender, the sequence numbers seen must rise. A number below or equal
    to the last one is a duplicate (seen before), a late arrival, or a
    reordering; a jump counts the numbers skipped as lost.

    A late arrival fills a gap left when a connection died: TCP keeps
    delivering what a closed socket still had in its kernel buffers, so after
    a heal the old connection's last bytes can reach the receiver alongside
    the new connection's first messages, and libzmq's fair queue interleaves
    the two pipes (seen in CI: a ROUTER with router_handover reading the old
    pipe's rest after the new pipe's first messages). Order holds per
    connection, not across a reconnection. A number below the last that
    fills no gap is a reordering, which must never happen.
    """

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.seen: dict[str, set[int]] = {}
        self.received = 0
        self.lost = 0
        self.duplicates = 0
        self.reordered = 0
        self.late = 0
        self.broken = 0
        self.gaps: list[tuple[str, int, int]] = []  # (sender, first lost, last lost)

    def take(self, frames: list[bytes]) -> None:
        if len(frames) != 3 or len(frames[1]) != _SEQ.size:
            self.broken += 1
            return
        sender, raw_seq, body = frames
        (seq,) = _SEQ.unpack(raw_seq)
        if body != _body(sender, seq, len(body)):
            self.broken += 1
            return
        name = sender.decode("ascii", "replace")
        self.received += 1
        seen = self.seen.setdefault(name, set())
        last = self.last.get(name, 0)
        if seq in seen:
            self.duplicates += 1
            return
        seen.add(seq)
        if seq <= last:
            if any(n == name and first <= seq <= end for n, first, end in self.gaps):
                self.late += 1  # it was counted lost when the gap opened
                self.lost -= 1
            else:
                self.reordered += 1
            return
        if seq > last + 1:
            self.lost += seq - last - 1
            self.gaps.append((name, last + 1, seq - 1))
        self.last[name] = seq

    def report(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "late": self.late,
            "broken": self.broken,
            "last": dict(self.last),
            "gaps": list(self.gaps),
        }


# ----------------------------------------------------------------------
# Plumbing


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def emit(**fields: Any) -> None:
    _out.write(json.dumps(fields) + "\n")
    _out.flush()


class Commands:
    """Commands on stdin, read without blocking (the fd sits in a zmq.Poller)."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno()
        os.set_blocking(self.fd, False)
        self._buffer = b""
        self.ended = False

    def read(self) -> list[dict[str, Any]]:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        if not chunk:
            self.ended = True
            return []
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]


def _make_socket(ctx: zmq.Context[Any], spec: dict[str, Any]) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = ctx.socket(getattr(zmq, spec["type"]))
    for name, value in spec.get("options", {}).items():
        sock.set(getattr(zmq, name.upper()), value.encode() if isinstance(value, str) else value)
    if spec["type"] == "SUB":
        sock.subscribe(b"")
    for endpoint in spec.get("bind", []):
        sock.bind(endpoint)
    for endpoint in spec.get("connect", []):
        sock.connect(endpoint)
    return sock


# ----------------------------------------------------------------------
# stream


class End:
    """One socket of a stream peer: a sink, a source, or both."""

    def __init__(self, sock: zmq.Socket[Any], spec: dict[str, Any]) -> None:
        self.sock = sock
        self.name: str = spec["name"]
        self.routed = spec["type"] == "ROUTER"  # frames start with a routing id
        self.echo = bool(spec.get("echo"))  # send every message back as it came
        self.sink = bool(spec.get("sink")) or self.echo
        self.tally = Tally()
        source = spec.get("source")
        self.source = source is not None
        self.sending = self.source
        if source is not None:
            self.sender: bytes = source["sender"].encode()
            self.size: int = source["size"]
            self.burst: int = source.get("burst", 10)
            self.interval: float = source.get("interval", 0.002)
            self.to: bytes | None = source["to"].encode() if "to" in source else None
        self.sent = 0
        self.refused = 0  # sends that would have blocked (HWM) or had no peer (EHOSTUNREACH)
        self.due = 0.0

    def drain(self) -> None:
        for _ in range(1000):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if self.echo:
                self.sock.send_multipart(frames)
            else:
                self.tally.take(frames[1:] if self.routed else frames)

    def send_due(self, now: float) -> None:
        if not self.sending or now < self.due:
            return
        self.due = now + self.interval
        for _ in range(self.burst):
            frames = message(self.sender, self.sent + 1, self.size)
            if self.to is not None:
                frames.insert(0, self.to)
            try:
                self.sock.send_multipart(frames, zmq.NOBLOCK)
            except zmq.Again:
                self.refused += 1
                return
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EHOSTUNREACH:
                    raise
                self.refused += 1
                return
            self.sent += 1

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"sent": self.sent, "refused": self.refused}
        if self.sink:
            report.update(self.tally.report())
        return report


def stream(config: dict[str, Any]) -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    ends = [End(_make_socket(ctx, spec), spec) for spec in config["sockets"]]
    commands = Commands()
    poller = zmq.Poller()
    poller.register(commands.fd, zmq.POLLIN)
    for end in ends:
        if end.sink:
            poller.register(end.sock, zmq.POLLIN)
    emit(event="ready")
    while not commands.ended:
        now = time.monotonic()
        timeout = 50.0
        for end in ends:
            if end.sending:
                timeout = min(timeout, max(0.0, (end.due - now) * 1000))
        ready = dict(poller.poll(int(timeout)))
        for end in ends:
            if end.sink and end.sock in ready:
                end.drain()
            end.send_due(time.monotonic())
        if commands.fd in ready:
            for command in commands.read():
                cmd = command["cmd"]
                if cmd == "report":
                    emit(reply=cmd, ends={end.name: end.report() for end in ends})
                elif cmd == "pause":
                    for end in ends:
                        end.sending = False
                    emit(reply=cmd, ends={end.name: end.report() for end in ends})
                elif cmd == "exit":
                    commands.ended = True
                else:
                    raise ValueError(f"unknown command {cmd!r}")
    for end in ends:
        end.sock.close(linger=0)
    ctx.term()


# ----------------------------------------------------------------------
# ppworker: a Paranoid Pirate worker (see examples/ppqueue.py)

READY, HEARTBEAT = b"\x01", b"\x02"


def ppworker(config: dict[str, Any]) -> None:
    name: str = config["name"]
    backend: str = config["backend"]
    interval: float = config["heartbeat_interval"]
    liveness: int = config["liveness"]
    ctx: zmq.Context[Any] = zmq.Context()
    commands = Commands()
    served = 0
    emit(event="ready")
    while not commands.ended:  # one round per connection to the queue
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.routing_id = name.encode()
        sock.connect(backend)
        sock.send(READY)
        emit(event="connected")
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(commands.fd, zmq.POLLIN)
        heard = time.monotonic()
        next_beat = heard + interval
        while not commands.ended:
            ready = dict(poller.poll(int(max(0.0, next_beat - time.monotonic()) * 1000)))
            if commands.fd in ready:
                for command in commands.read():
                    if command["cmd"] == "report":
                        emit(reply="report", served=served)
                    elif command["cmd"] == "exit":
                        commands.ended = True
            if sock in ready:
                frames = sock.recv_multipart()
                heard = time.monotonic()
                if frames != [HEARTBEAT]:
                    client, empty, body = frames
                    served += 1
                    sock.send_multipart([client, empty, body + b"@" + name.encode()])
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + interval
                sock.send(HEARTBEAT)
            if now - heard > interval * liveness:
                emit(event="queue-silent")
                break
        sock.close(linger=0)
        time.sleep(interval)
    ctx.term()


# ----------------------------------------------------------------------
# storm: DEALER peers reconnecting at random


class StormPeer:
    def __init__(self, ctx: zmq.Context[Any], index: int, endpoint: str, fixed: bool) -> None:
        self.ctx = ctx
        self.index = index
        self.endpoint = endpoint
        self.fixed = fixed  # a fixed routing id: the ROUTER hands it over on reconnection
        self.sock: zmq.Socket[Any] | None = None
        self.outstanding: dict[int, float] = {}  # request number -> when sent
        self.seq = 0
        self.sockets_made = 0

    def reconnect(self, options: dict[str, Any]) -> None:
        if self.sock is not None:
            self.sock.close(linger=0)  # outstanding requests are abandoned
        self.outstanding.clear()
        sock = self.ctx.socket(zmq.DEALER)
        for name, value in options.items():
            sock.set(getattr(zmq, name.upper()), value)
        if self.fixed:
            sock.routing_id = b"peer-%d" % self.index
        sock.connect(self.endpoint)
        self.sock = sock
        self.sockets_made += 1

    def request(self, now: float) -> None:
        assert self.sock is not None
        self.seq += 1
        self.sock.send_multipart([b"%d" % self.index, b"%d" % self.seq], zmq.NOBLOCK)
        self.outstanding[self.seq] = now


def storm(config: dict[str, Any]) -> None:
    rng = random.Random(config["seed"])
    count: int = config["peers"]
    seconds: float = config["seconds"]
    late_after: float = config["late_after"]
    options: dict[str, Any] = config.get("options", {})
    ctx: zmq.Context[Any] = zmq.Context()
    commands = Commands()
    peers = [StormPeer(ctx, i, config["endpoint"], i < config["fixed_ids"]) for i in range(count)]
    emit(event="ready")
    while not commands.ended:  # wait for "go"
        zmq.select([commands.fd], [], [], 1.0)
        if any(command["cmd"] == "go" for command in commands.read()):
            break
    stats = {"requests": 0, "replies": 0, "abandoned": 0, "late": 0, "reconnects": 0}
    latencies: list[float] = []
    next_action = [0.0] * count
    for peer in peers:
        peer.reconnect(options)
    start = time.monotonic()
    end_at = start + seconds
    poller = zmq.Poller()
    by_socket: dict[zmq.Socket[Any], StormPeer] = {}

    def rebuild_poller() -> None:
        nonlocal poller
        poller = zmq.Poller()
        by_socket.clear()
        for peer in peers:
            assert peer.sock is not None
            poller.register(peer.sock, zmq.POLLIN)
            by_socket[peer.sock] = peer

    def take_replies(timeout_ms: float) -> None:
        for sock, _ in poller.poll(int(timeout_ms)):
            peer = by_socket[sock]
            for _ in range(100):
                try:
                    index, seq = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                sent = peer.outstanding.pop(int(seq), None)
                if sent is not None:
                    stats["replies"] += 1
                    latencies.append(time.monotonic() - sent)

    rebuild_poller()
    while time.monotonic() < end_at:
        now = time.monotonic()
        changed = False
        for i, peer in enumerate(peers):
            if now < next_action[i]:
                continue
            next_action[i] = now + rng.uniform(0.0, 0.05)
            stale = [seq for seq, sent in peer.outstanding.items() if now - sent > late_after]
            if stale:
                stats["late"] += len(stale)
                for seq in stale:
                    del peer.outstanding[seq]
            if rng.random() < 0.15:
                stats["abandoned"] += len(peer.outstanding)
                peer.reconnect(options)
                stats["reconnects"] += 1
                changed = True
            elif len(peer.outstanding) < 4:
                try:
                    peer.request(now)
                    stats["requests"] += 1
                except zmq.Again:
                    pass
        if changed:
            rebuild_poller()
        take_replies(5)
    # The end: every peer asks once more and must be answered.
    for peer in peers:
        stats["abandoned"] += len(peer.outstanding)
        peer.outstanding.clear()
        assert peer.sock is not None
        peer.sock.send_multipart([b"%d" % peer.index, b"0"])  # seq 0: the final request
        peer.outstanding[0] = time.monotonic()
        stats["requests"] += 1
    final_deadline = time.monotonic() + late_after
    while any(peer.outstanding for peer in peers) and time.monotonic() < final_deadline:
        take_replies(50)
    unanswered = sum(1 for peer in peers if 0 in peer.outstanding)
    for peer in peers:
        assert peer.sock is not None
        peer.sock.close(linger=0)
    ctx.term()
    latencies.sort()
    emit(
        event="done",
        **stats,
        final_unanswered=unanswered,
        sockets=sum(peer.sockets_made for peer in peers),
        seconds=time.monotonic() - start,
        max_latency=latencies[-1] if latencies else None,
        p99_latency=latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
    )
    while not commands.ended:
        zmq.select([commands.fd], [], [], 1.0)
        if any(command["cmd"] == "exit" for command in commands.read()):
            break


def ppworker_example(config: dict[str, Any]) -> None:
    """The worker of examples/ppqueue.py itself, a trio_zmq program, on a tcp backend."""
    import trio

    import trio_zmq

    path = Path(__file__).resolve().parent.parent / "examples" / "ppqueue.py"
    spec = importlib.util.spec_from_file_location("ppqueue_example", path)
    assert spec is not None
    assert spec.loader is not None
    example: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.BACKEND = config["backend"]  # read when the worker connects

    async def main() -> None:
        async with trio_zmq.Context(linger=0) as ctx, trio.open_nursery() as nursery:
            nursery.start_soon(example.ppworker, ctx, config["name"])
            emit(event="ready")
            commands = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            while await commands.receive_some():  # until the test closes our input
                pass
            nursery.cancel_scope.cancel()

    trio.run(main)


ROLES = {
    "stream": stream,
    "ppworker": ppworker,
    "ppworker-example": ppworker_example,
    "storm": storm,
}


if __name__ == "__main__":
    _die_with_parent()
    signal.alarm(MAX_LIFETIME)
    _out, sys.stdout = sys.stdout, sys.stderr
    ROLES[sys.argv[1]](json.loads(sys.argv[2]))
