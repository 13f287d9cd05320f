"""Helpers shared by the authenticator's tests: requests, decisions, certificates, sockets."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
import zmq
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

import trio_zmq
from trio_zmq.auth import ZAP_ENDPOINT, Decision

#: A routing id, then the delimiter: a request's envelope as the ROUTER reads it.
ROUTED = (b"\x00peer-1", b"")


class Decisions(logging.Handler):
    """Collects the ``trio_zmq.auth`` records and lets a test wait for a decision.

    ``emit`` runs in the authenticator's task, in the test's thread, so it
    can wake a Trio task directly: waiting on it needs no sleeps.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self._changed.set()
        self._changed = trio.Event()

    @property
    def decisions(self) -> list[Decision]:
        return [decision_of(r) for r in self.records if hasattr(r, "zap_decision")]

    def at(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno == level]

    async def wait_for(self, predicate: Callable[[Decision], bool]) -> Decision:
        seen = 0
        while True:
            found = [d for d in self.decisions[seen:] if predicate(d)]
            if found:
                return found[0]
            seen = len(self.decisions)
            await self._changed.wait()


def decision_of(record: logging.LogRecord) -> Decision:
    """The :class:`Decision` attached to *record*."""
    decision = record.__dict__["zap_decision"]
    assert isinstance(decision, Decision)
    return decision


@contextlib.contextmanager
def collecting_decisions() -> Iterator[Decisions]:
    """A :class:`Decisions` handler on the ``trio_zmq.auth`` logger while the block runs."""
    log = logging.getLogger("trio_zmq.auth")
    handler = Decisions()
    saved = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(saved)


@dataclass(frozen=True)
class Certs:
    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes
    stranger_public: bytes
    stranger_secret: bytes
    authorized: Path  # holds the client's public certificate only


def make_certs(tmp_path: Path) -> Certs:
    """Key pairs for a server, a client and a stranger; the client's certificate authorized."""
    keys = tmp_path / "keys"
    authorized = tmp_path / "authorized"
    keys.mkdir()
    authorized.mkdir()
    pairs: dict[str, tuple[bytes, bytes]] = {}
    for name in ("server", "client", "stranger"):
        _, secret_file = zmq.auth.create_certificates(keys, name)
        public, secret = zmq.auth.load_certificate(secret_file)
        assert secret is not None
        pairs[name] = (public, secret)
    shutil.copy(keys / "client.key", authorized / "client.key")
    return Certs(*pairs["server"], *pairs["client"], *pairs["stranger"], authorized=authorized)


def curve_server(
    ctx: trio_zmq.Context, certs: Certs, *, socket_type: int = zmq.PULL, **options: Any
) -> trio_zmq.Socket:
    return ctx.socket(
        socket_type,
        curve_server=True,
        curve_secretkey=certs.server_secret,
        curve_publickey=certs.server_public,
        **options,
    )


def curve_client(
    ctx: trio_zmq.Context, certs: Certs, public: bytes, secret: bytes, endpoint: str
) -> trio_zmq.Socket:
    sock = ctx.socket(
        zmq.PUSH,
        curve_serverkey=certs.server_public,
        curve_publickey=public,
        curve_secretkey=secret,
    )
    sock.connect(endpoint)
    return sock


def plain_client(ctx: trio_zmq.Context, user: str, password: str, endpoint: str) -> trio_zmq.Socket:
    sock = ctx.socket(zmq.PUSH, plain_username=user.encode(), plain_password=password.encode())
    sock.connect(endpoint)
    return sock


@contextlib.asynccontextmanager
async def monitor(sock: trio_zmq.Socket, events: int) -> AsyncIterator[trio_zmq.Socket]:
    """A monitor of *sock* for *events*; set it up before bind/connect."""
    mon = trio_zmq.Socket.from_socket(sock.underlying.get_monitor_socket(events))
    try:
        yield mon
    finally:
        sock.underlying.disable_monitor()
        mon.close(linger=0)


async def wait_event(mon: trio_zmq.Socket, event: int) -> int:
    """Wait for *event* on *mon*; return its value (an errno, or a ZAP status)."""
    while True:
        parsed = parse_monitor_message(await mon.recv_multipart())
        if parsed["event"] == event:
            return int(parsed["value"])


async def assert_nothing_queued(sock: trio_zmq.Socket) -> None:
    with pytest.raises(zmq.Again):
        await sock.recv(zmq.NOBLOCK)


async def zap_request(ctx: trio_zmq.Context, *frames: bytes) -> list[bytes]:
    """Send one request straight to the ZAP endpoint; return the reply, envelope off."""
    async with ctx.socket(zmq.DEALER, linger=0) as dealer:
        dealer.connect(ZAP_ENDPOINT)
        await dealer.send_multipart([b"", *frames])
        reply = await dealer.recv_multipart()
    assert reply[0] == b""
    return reply[1:]


def request(
    mechanism: bytes,
    *credentials: bytes,
    address: bytes = b"127.0.0.1",
    domain: bytes = b"",
    request_id: bytes = b"id-7",
) -> tuple[bytes, ...]:
    """The frames of a ZAP request after the delimiter."""
    return (b"1.0", request_id, domain, address, b"", mechanism, *credentials)
