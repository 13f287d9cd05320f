"""The ZAP authenticator: CURVE, PLAIN, address lists, malformed requests, lifetime;
the wire format and the policy on their own; what ``trio_zmq.auth`` exports."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import zmq
import zmq.auth
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

import trio_zmq

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

from trio_zmq import _auth_server, _zap
from trio_zmq._auth_policy import Policy, Verdict
from trio_zmq._zap import (
    MalformedRequest,
    ZapReply,
    ZapRequest,
    build_reply,
    parse_reply,
    parse_request,
)
from trio_zmq.auth import ZAP_ENDPOINT, Decision, open_authenticator, serve_authenticator

# ----------------------------------------------------------------------
# Helpers


class Decisions(logging.Handler):
    """Collects the ``trio_zmq.auth`` decisions and lets a test wait for one.

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
        return [r.zap_decision for r in self.records if hasattr(r, "zap_decision")]

    async def wait_for(self, predicate: Callable[[Decision], bool]) -> Decision:
        seen = 0
        while True:
            found = [d for d in self.decisions[seen:] if predicate(d)]
            if found:
                return found[0]
            seen = len(self.decisions)
            await self._changed.wait()


@pytest.fixture
def decisions() -> Iterator[Decisions]:
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


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
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
    ctx: trio_zmq.Context, certs: Certs, socket_type: int = zmq.PULL
) -> trio_zmq.Socket:
    return ctx.socket(
        socket_type,
        curve_server=True,
        curve_secretkey=certs.server_secret,
        curve_publickey=certs.server_public,
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


async def wait_event(mon: trio_zmq.Socket, event: int) -> None:
    while True:
        if parse_monitor_message(await mon.recv_multipart())["event"] == event:
            return


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
    mechanism: bytes, *credentials: bytes, address: bytes = b"127.0.0.1", domain: bytes = b""
) -> tuple[bytes, ...]:
    return (b"1.0", b"id-7", domain, address, b"", mechanism, *credentials)


# ----------------------------------------------------------------------
# CURVE


async def test_curve_client_with_a_certificate_in_the_directory_gets_in(
    ctx: trio_zmq.Context, certs: Certs, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_curve(domain="*", location=certs.authorized)
        server = curve_server(ctx, certs)
        endpoint = server.bind("tcp://127.0.0.1:*")
        client = curve_client(ctx, certs, certs.client_public, certs.client_secret, endpoint)
        await client.send(b"hello")
        frame = await server.recv(copy=False)
    assert frame.bytes == b"hello"
    assert frame.get("User-Id") == certs.client_public.decode()
    (decision,) = decisions.decisions
    assert decision.allowed
    assert decision.mechanism == "CURVE"
    assert decision.credential == certs.client_public.decode()


async def test_curve_client_without_a_certificate_is_kept_out_and_nothing_it_sent_arrives(
    ctx: trio_zmq.Context, certs: Certs, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_curve(domain="*", location=certs.authorized)
        server = curve_server(ctx, certs)
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as mon:
            endpoint = server.bind("tcp://127.0.0.1:*")
            stranger = curve_client(
                ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint
            )
            await stranger.send(b"intruder")  # queued before the handshake
            await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        client = curve_client(ctx, certs, certs.client_public, certs.client_secret, endpoint)
        await client.send(b"friend")
        assert await server.recv() == b"friend"
        await assert_nothing_queued(server)
    denied = decisions.decisions[0]
    assert not denied.allowed
    assert denied.status_code == 400
    assert denied.credential == certs.stranger_public.decode()
    assert "no certificate" in denied.reason


async def test_curve_allow_any_lets_a_client_with_any_key_in(
    ctx: trio_zmq.Context, certs: Certs, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        server = curve_server(ctx, certs)
        endpoint = server.bind("tcp://127.0.0.1:*")
        stranger = curve_client(ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint)
        await stranger.send(b"anyone")
        assert await server.recv() == b"anyone"
    assert decisions.decisions[0].allowed


async def test_an_unencrypted_client_cannot_talk_to_a_curve_server(
    ctx: trio_zmq.Context, certs: Certs
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        server = curve_server(ctx, certs)
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL) as mon:
            endpoint = server.bind("tcp://127.0.0.1:*")
            plain = ctx.socket(zmq.PUSH)
            plain.connect(endpoint)
            await plain.send(b"in the clear")
            await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        await assert_nothing_queued(server)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_curve_callback_decides_per_key(
    ctx: trio_zmq.Context, certs: Certs, decisions: Decisions, kind: str
) -> None:
    calls: list[tuple[str, bytes]] = []

    def sync_callback(domain: str, key: bytes) -> bool:
        calls.append((domain, key))
        return key == certs.client_public

    async def async_callback(domain: str, key: bytes) -> bool:
        await trio.lowlevel.checkpoint()
        return sync_callback(domain, key)

    async with open_authenticator(ctx) as auth:
        auth.configure_curve_callback("*", sync_callback if kind == "sync" else async_callback)
        server = curve_server(ctx, certs)
        endpoint = server.bind("tcp://127.0.0.1:*")
        stranger = curve_client(ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint)
        await stranger.send(b"intruder")
        await decisions.wait_for(lambda d: not d.allowed)
        client = curve_client(ctx, certs, certs.client_public, certs.client_secret, endpoint)
        await client.send(b"friend")
        assert await server.recv() == b"friend"
        await assert_nothing_queued(server)
    assert ("*", certs.stranger_public) in calls
    assert ("*", certs.client_public) in calls


async def test_a_curve_callback_may_be_a_pyzmq_style_credentials_provider(
    ctx: trio_zmq.Context,
) -> None:
    key = b"k" * 32

    class Provider:
        def callback(self, domain: str, z85_key: bytes) -> bool:
            return domain == "vault" and z85_key == z85.encode(key)

    async with open_authenticator(ctx) as auth:
        auth.configure_curve_callback(domain="vault", credentials_provider=Provider())
        reply = await zap_request(ctx, *request(b"CURVE", key, domain=b"vault"))
    assert reply[2] == b"200"
    assert reply[4] == z85.encode(key)


async def test_a_curve_callback_that_raises_denies_with_500_and_the_handler_keeps_serving(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    def broken(domain: str, key: bytes) -> bool:
        raise LookupError("key database unreachable")

    async with open_authenticator(ctx) as auth:
        auth.configure_curve_callback("*", broken)
        failed = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
        served = await zap_request(ctx, *request(b"NULL"))
    assert failed[2] == b"500"
    assert served[2] == b"200"
    (record,) = [r for r in decisions.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], LookupError)


async def test_a_slow_async_callback_does_not_hold_up_other_handshakes(
    ctx: trio_zmq.Context,
) -> None:
    slow_key, quick_key = b"s" * 32, b"q" * 32
    release = trio.Event()

    async def callback(domain: str, key: bytes) -> bool:
        if key == z85.encode(slow_key):
            await release.wait()
        return True

    async with open_authenticator(ctx) as auth, ctx.socket(zmq.DEALER) as slow:
        auth.configure_curve_callback("*", callback)
        slow.connect(ZAP_ENDPOINT)
        await slow.send_multipart([b"", *request(b"CURVE", slow_key)])
        quick = await zap_request(ctx, *request(b"CURVE", quick_key))
        release.set()
        slow_reply = await slow.recv_multipart()
    assert quick[2] == b"200"
    assert slow_reply[3] == b"200"


async def test_curve_policies_are_per_domain_with_star_as_the_fallback(
    ctx: trio_zmq.Context, certs: Certs
) -> None:
    unknown = z85.decode(certs.stranger_public)
    async with open_authenticator(ctx) as auth:
        auth.configure_curve("*", zmq.auth.CURVE_ALLOW_ANY)
        auth.configure_curve("vault", certs.authorized)
        elsewhere = await zap_request(ctx, *request(b"CURVE", unknown, domain=b"x"))
        in_vault = await zap_request(ctx, *request(b"CURVE", unknown, domain=b"vault"))
    assert elsewhere[2] == b"200"
    assert in_vault[2] == b"400"


async def test_a_certificate_location_that_is_not_a_directory_is_refused_at_once(
    ctx: trio_zmq.Context, tmp_path: Path
) -> None:
    async with open_authenticator(ctx) as auth:
        with pytest.raises(OSError, match="certificate directory"):
            auth.configure_curve("*", tmp_path / "missing")
        with pytest.raises(ValueError, match="needs a location"):
            auth.configure_curve("*")


# ----------------------------------------------------------------------
# PLAIN


async def test_a_plain_client_with_the_right_password_gets_in(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = ctx.socket(zmq.PULL, plain_server=True)
        endpoint = server.bind("tcp://127.0.0.1:*")
        client = plain_client(ctx, "admin", "secret", endpoint)
        await client.send(b"hello")
        frame = await server.recv(copy=False)
    assert frame.bytes == b"hello"
    assert frame.get("User-Id") == "admin"
    (decision,) = decisions.decisions
    assert decision.allowed
    assert (decision.mechanism, decision.credential) == ("PLAIN", "admin")


async def test_a_plain_client_with_a_wrong_password_is_kept_out_and_the_password_is_not_logged(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = ctx.socket(zmq.PULL, plain_server=True)
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as mon:
            endpoint = server.bind("tcp://127.0.0.1:*")
            client = plain_client(ctx, "admin", "guess-1234", endpoint)
            await client.send(b"let me in")
            await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        await assert_nothing_queued(server)
    decision = decisions.decisions[0]
    assert not decision.allowed
    assert decision.reason == "wrong password"
    assert not any("guess-1234" in r.getMessage() for r in decisions.records)


async def test_plain_passwords_for_star_cover_every_domain_without_its_own(
    ctx: trio_zmq.Context,
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_plain("*", {"anyone": "pw"})
        auth.configure_plain("vault", {"keeper": "pw"})
        elsewhere = await zap_request(ctx, *request(b"PLAIN", b"anyone", b"pw", domain=b"x"))
        in_vault = await zap_request(ctx, *request(b"PLAIN", b"anyone", b"pw", domain=b"vault"))
        keeper = await zap_request(ctx, *request(b"PLAIN", b"keeper", b"pw", domain=b"vault"))
    assert [elsewhere[2], in_vault[2], keeper[2]] == [b"200", b"400", b"200"]


async def test_policy_changes_apply_from_the_next_handshake(ctx: trio_zmq.Context) -> None:
    plain = request(b"PLAIN", b"admin", b"secret")
    async with open_authenticator(ctx) as auth:
        before = await zap_request(ctx, *plain)
        passwords = {"admin": "secret"}
        auth.configure_plain("*", passwords)
        configured = await zap_request(ctx, *plain)
        passwords["admin"] = "changed"  # the mapping is kept, as in pyzmq
        changed = await zap_request(ctx, *plain)
    assert [before[2], configured[2], changed[2]] == [b"400", b"200", b"400"]


# ----------------------------------------------------------------------
# Address lists


@pytest.mark.parametrize(
    ("listed", "expected"),
    [("127.0.0.1", b"ZAP denied"), ("127.0.0.0/8", b"ZAP denied"), ("10.0.0.0/8", b"delivered")],
)
async def test_a_deny_list_keeps_listed_addresses_and_networks_out(
    ctx: trio_zmq.Context, listed: str, expected: bytes
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.deny(listed)
        # NULL peers are submitted to ZAP once the server names a ZAP domain.
        server = ctx.socket(zmq.PULL, zap_domain=b"global")
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as mon:
            endpoint = server.bind("tcp://127.0.0.1:*")
            client = ctx.socket(zmq.PUSH)
            client.connect(endpoint)
            await client.send(b"delivered")
            async with trio.open_nursery() as nursery:

                async def denied() -> None:
                    await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
                    outcome.append(b"ZAP denied")
                    nursery.cancel_scope.cancel()

                async def received() -> None:
                    outcome.append(await server.recv())
                    nursery.cancel_scope.cancel()

                outcome: list[bytes] = []
                nursery.start_soon(denied)
                nursery.start_soon(received)
        assert outcome == [expected]
        await assert_nothing_queued(server)


@pytest.mark.parametrize(
    ("listed", "allowed"), [("127.0.0.0/8", True), ("127.0.0.1", True), ("10.0.0.0/8", False)]
)
async def test_an_allow_list_lets_only_listed_addresses_and_networks_in(
    ctx: trio_zmq.Context, decisions: Decisions, listed: str, allowed: bool
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.allow(listed)
        auth.configure_plain("*", {"admin": "secret"})
        server = ctx.socket(zmq.PULL, plain_server=True)
        endpoint = server.bind("tcp://127.0.0.1:*")
        client = plain_client(ctx, "admin", "secret", endpoint)
        await client.send(b"hello")
        decision = await decisions.wait_for(lambda d: d.mechanism == "PLAIN")
        if allowed:
            assert await server.recv() == b"hello"
    assert decision.allowed is allowed
    assert decision.address == "127.0.0.1"
    if not allowed:
        assert decision.reason == "address is not on the allow list"


@pytest.mark.parametrize(
    ("method", "listed", "address", "status"),
    [
        ("allow", "10.0.0.0/8", b"10.200.3.4", b"200"),
        ("allow", "10.0.0.0/8", b"11.0.0.1", b"400"),
        ("allow", "::1/128", b"::1", b"200"),
        ("allow", "2001:db8::/32", b"2001:db9::1", b"400"),
        ("allow", "127.0.0.1", b"::ffff:127.0.0.1", b"200"),
        ("allow", "127.0.0.1", b"", b"400"),
        ("deny", "192.168.0.0/16", b"192.168.4.4", b"400"),
        ("deny", "192.168.0.0/16", b"192.169.0.1", b"200"),
        ("deny", "fe80::/10", b"fe80::1", b"400"),
        ("deny", "127.0.0.1", b"", b"200"),
    ],
)
async def test_address_lists_match_addresses_and_cidr_networks(
    ctx: trio_zmq.Context, method: str, listed: str, address: bytes, status: bytes
) -> None:
    async with open_authenticator(ctx) as auth:
        getattr(auth, method)(listed)
        reply = await zap_request(ctx, *request(b"NULL", address=address))
    assert reply[2] == status


async def test_allow_and_deny_lists_do_not_mix(ctx: trio_zmq.Context) -> None:
    async with open_authenticator(ctx) as auth:
        auth.allow("127.0.0.1")
        with pytest.raises(ValueError, match="do not mix"):
            auth.deny("10.0.0.1")


async def test_an_entry_that_is_no_address_is_refused_at_once(ctx: trio_zmq.Context) -> None:
    async with open_authenticator(ctx) as auth:
        with pytest.raises(ValueError, match="CIDR"):
            auth.allow("localhost")
        with pytest.raises(ValueError, match="CIDR"):
            auth.deny("10.0.0.0/33")


# ----------------------------------------------------------------------
# Malformed requests and other mechanisms


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ((b"2.0", b"id-7", b"", b"127.0.0.1", b"", b"NULL"), "version"),
        ((b"1.0", b"id-7", b"", b"127.0.0.1"), "at least 6"),
        ((b"1.0", b"id-7", b"", b"127.0.0.1", b"", b"MAGIC"), "unknown mechanism"),
        ((b"1.0", b"id-7", b"", b"127.0.0.1", b"", b"PLAIN", b"admin"), "credential frames"),
        ((b"1.0", b"id-7", b"", b"127.0.0.1", b"", b"CURVE", b"short"), "32 bytes"),
    ],
)
async def test_a_malformed_request_gets_an_error_reply_and_the_handler_keeps_serving(
    ctx: trio_zmq.Context, decisions: Decisions, frames: tuple[bytes, ...], why: str
) -> None:
    async with open_authenticator(ctx):
        reply = await zap_request(ctx, *frames)
        valid = await zap_request(ctx, *request(b"NULL"))
    assert reply[:3] == [b"1.0", b"id-7", b"400"]
    assert why in reply[3].decode()
    assert valid[2] == b"200"
    (warning,) = [r for r in decisions.records if r.levelno == logging.WARNING]
    assert "malformed" in warning.getMessage()
    assert "at 127.0.0.1" in warning.getMessage()  # who, as far as the request says
    if len(frames) > 5:
        assert frames[5].decode() in warning.getMessage()  # and which mechanism it named


async def test_a_request_without_a_request_id_is_logged_and_the_handler_keeps_serving(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx), ctx.socket(zmq.DEALER) as dealer:
        dealer.connect(ZAP_ENDPOINT)
        await dealer.send_multipart([b"", b"1.0"])
        await dealer.send_multipart([b"no delimiter"])
        await dealer.send_multipart([b"", *request(b"NULL")])
        reply = await dealer.recv_multipart()  # the first reply is the valid one's
    assert reply[1:4] == [b"1.0", b"id-7", b"200"]
    warnings = [r.getMessage() for r in decisions.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all("cannot reply" in w for w in warnings)


async def test_gssapi_is_denied_until_configured(ctx: trio_zmq.Context) -> None:
    gssapi = request(b"GSSAPI", b"alice@EXAMPLE.ORG")
    async with open_authenticator(ctx) as auth:
        before = await zap_request(ctx, *gssapi)
        auth.configure_gssapi()
        after = await zap_request(ctx, *gssapi)
    assert before[2] == b"400"
    assert after[2] == b"200"
    assert after[4] == b"alice@EXAMPLE.ORG"


async def test_every_decision_is_logged_with_who_what_and_why(
    ctx: trio_zmq.Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trio_zmq.auth")
    async with open_authenticator(ctx) as auth:
        auth.configure_plain("*", {"admin": "secret"})
        await zap_request(ctx, *request(b"PLAIN", b"admin", b"secret", address=b"10.0.0.5"))
        await zap_request(ctx, *request(b"PLAIN", b"mallory", b"x", address=b"10.0.0.6"))
        await zap_request(ctx, *request(b"CURVE", b"k" * 32, address=b"10.0.0.7"))
        await zap_request(ctx, *request(b"NULL", address=b"10.0.0.8"))
    messages = [r.getMessage() for r in caplog.records if hasattr(r, "zap_decision")]
    assert len(messages) == 4
    assert "allowed PLAIN peer 'admin' at 10.0.0.5" in messages[0]
    assert "password matches" in messages[0]
    assert "denied (400) PLAIN peer 'mallory' at 10.0.0.6" in messages[1]
    assert "unknown user" in messages[1]
    assert "denied (400) CURVE peer" in messages[2]
    assert "no CURVE policy" in messages[2]
    assert "allowed NULL peer at 10.0.0.8" in messages[3]
    assert all(r.name == "trio_zmq.auth" for r in caplog.records)


# ----------------------------------------------------------------------
# Lifetime


async def test_leaving_the_block_unbinds_so_another_authenticator_can_start(
    ctx: trio_zmq.Context,
) -> None:
    async with open_authenticator(ctx) as first:
        serving_inside = first.serving  # read here, so mypy does not keep it narrowed
    assert serving_inside
    assert not first.serving
    async with open_authenticator(ctx) as second:
        second.configure_plain("*", {"admin": "secret"})
        reply = await zap_request(ctx, *request(b"PLAIN", b"admin", b"secret"))
    assert reply[2] == b"200"
    async with ctx.socket(zmq.REP) as raw:  # nothing is bound there any more
        raw.bind(ZAP_ENDPOINT)
        raw.unbind(ZAP_ENDPOINT)


async def test_a_second_authenticator_on_the_same_context_is_refused(
    ctx: trio_zmq.Context,
) -> None:
    async with open_authenticator(ctx) as first:
        with pytest.raises(trio.BusyResourceError, match="already has a ZAP handler"):
            async with open_authenticator(ctx):
                pass  # pragma: no cover
        assert first.serving
        reply = await zap_request(ctx, *request(b"NULL"))
    assert reply[2] == b"200"


async def test_serve_authenticator_runs_under_nursery_start_and_unbinds_when_cancelled(
    ctx: trio_zmq.Context,
) -> None:
    async with trio.open_nursery() as nursery:
        auth = await nursery.start(serve_authenticator, ctx)
        auth.configure_curve("*", zmq.auth.CURVE_ALLOW_ANY)
        reply = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
        nursery.cancel_scope.cancel()
    assert reply[2] == b"200"
    assert not auth.serving
    async with open_authenticator(ctx) as again:
        assert again.serving


async def test_a_handshake_being_decided_when_the_authenticator_stops_gets_500(
    ctx: trio_zmq.Context,
) -> None:
    entered = trio.Event()

    async def never_decides(domain: str, key: bytes) -> bool:
        entered.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async with ctx.socket(zmq.DEALER) as dealer:
        dealer.connect(ZAP_ENDPOINT)
        async with open_authenticator(ctx) as auth:
            auth.configure_curve_callback("*", never_decides)
            await dealer.send_multipart([b"", *request(b"CURVE", b"k" * 32)])
            await entered.wait()
        reply = await dealer.recv_multipart()
    assert reply[1:4] == [b"1.0", b"id-7", b"500"]


async def test_an_exception_in_the_block_comes_out_unwrapped(ctx: trio_zmq.Context) -> None:
    with pytest.raises(KeyError, match="boom"):
        async with open_authenticator(ctx):
            raise KeyError("boom")
    async with open_authenticator(ctx) as again:  # and the endpoint was released
        assert again.serving


async def test_cancelling_the_block_stops_the_authenticator(ctx: trio_zmq.Context) -> None:
    with trio.CancelScope() as scope:
        async with open_authenticator(ctx) as auth:
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert not auth.serving


async def test_closing_the_context_under_a_running_authenticator_raises_closed() -> None:
    ctx = trio_zmq.Context(linger=0)
    with pytest.raises(trio.ClosedResourceError, match="Leave the authenticator's block"):
        async with open_authenticator(ctx):
            await ctx.aclose()
            await trio.sleep_forever()
    assert ctx.closed


async def test_the_authenticator_takes_a_trio_zmq_context() -> None:
    raw = zmq.Context()
    try:
        with pytest.raises(TypeError, match="from_context"):
            async with open_authenticator(raw):  # type: ignore[arg-type]
                pass  # pragma: no cover
    finally:
        raw.term()


def test_an_authenticator_is_not_made_directly() -> None:
    with pytest.raises(TypeError, match="open_authenticator"):
        trio_zmq.auth.Authenticator()


def test_the_authenticator_is_reached_as_trio_zmq_auth() -> None:
    assert trio_zmq.auth.open_authenticator is open_authenticator
    assert "auth" in trio_zmq.__all__


async def test_an_exception_group_raised_in_the_block_comes_out_as_raised(
    ctx: trio_zmq.Context,
) -> None:
    mine = ExceptionGroup("mine", [KeyError(1)])
    with pytest.raises(ExceptionGroup) as info:
        async with open_authenticator(ctx):
            raise mine
    # As raised (Trio may hand on a copy): not flattened, not wrapped again.
    assert info.value.message == "mine"
    assert [type(exc) for exc in info.value.exceptions] == [KeyError]


# ----------------------------------------------------------------------
# The wire format, without sockets (trio_zmq._zap)

ROUTED = (b"\x00peer-1", b"")  # a routing id, then the delimiter


def test_a_well_formed_request_parses_into_its_envelope_and_fields() -> None:
    frames = [*ROUTED, b"1.0", b"id-7", b"vault", b"10.0.0.5", b"me", b"PLAIN", b"admin", b"pw"]
    parsed = parse_request(frames)
    assert parsed == ZapRequest(
        envelope=ROUTED,
        request_id=b"id-7",
        domain="vault",
        address="10.0.0.5",
        identity=b"me",
        mechanism="PLAIN",
        credentials=(b"admin", b"pw"),
    )
    assert parsed.credential == "admin"


def test_a_request_routed_through_a_proxy_keeps_its_whole_envelope() -> None:
    envelope = (b"\x00proxy", b"\x00peer-1", b"")
    parsed = parse_request([*envelope, *request(b"NULL")])
    assert parsed.envelope == envelope
    assert parsed.credentials == ()
    assert parsed.credential == ""


def test_the_delimiter_is_looked_for_after_the_routing_id() -> None:
    parsed = parse_request([b"", b"", *request(b"NULL")])
    assert parsed.envelope == (b"", b"")
    assert parsed.request_id == b"id-7"


def test_a_curve_request_names_its_peer_by_the_z85_key() -> None:
    key = b"k" * 32
    parsed = parse_request([*ROUTED, *request(b"CURVE", key)])
    assert parsed.credential == z85.encode(key).decode()


def test_a_parsed_request_does_not_show_its_password() -> None:
    parsed = parse_request([*ROUTED, *request(b"PLAIN", b"admin", b"hunter2")])
    assert "hunter2" not in repr(parsed)
    assert "hunter2" not in parsed.credential


@pytest.mark.parametrize(
    ("body", "why", "request_id", "salvaged"),
    [
        ((b"1.0",), "too few to hold a request id", None, ("", "", "")),
        (
            (b"2.0", b"id-7", b"d", b"127.0.0.1", b"", b"NULL"),
            "version",
            b"id-7",
            ("d", "127.0.0.1", "NULL"),
        ),
        ((b"1.0", b"id-7", b"d", b"127.0.0.1"), "at least 6", b"id-7", ("d", "127.0.0.1", "")),
        (request(b"MAGIC"), "unknown mechanism 'MAGIC'", b"id-7", ("", "127.0.0.1", "MAGIC")),
        (request(b"NULL", b"extra"), "NULL takes 0 credential frames, not 1", b"id-7", None),
        (request(b"PLAIN", b"admin"), "PLAIN takes 2 credential frames, not 1", b"id-7", None),
        (request(b"CURVE"), "CURVE takes 1 credential frames, not 0", b"id-7", None),
        (request(b"GSSAPI", b"a", b"b"), "GSSAPI takes 1", b"id-7", None),
        (request(b"CURVE", b"short"), "a CURVE key has 32 bytes, not 5", b"id-7", None),
    ],
)
def test_a_malformed_request_raises_and_carries_its_envelope(
    body: tuple[bytes, ...], why: str, request_id: bytes | None, salvaged: tuple[str, ...] | None
) -> None:
    with pytest.raises(MalformedRequest) as info:
        parse_request([*ROUTED, *body])
    malformed = info.value
    assert why in malformed.reason
    assert str(malformed) == malformed.reason
    assert malformed.envelope == ROUTED
    assert malformed.request_id == request_id
    if salvaged is None:  # the fields up to the mechanism are all there
        salvaged = ("", "127.0.0.1", body[5].decode())
    assert (malformed.domain, malformed.address, malformed.mechanism) == salvaged


@pytest.mark.parametrize(
    "frames",
    [[], [b"\x00peer-1"], [b""], [b"\x00peer-1", b"1.0", b"id-7", b"10.0.0.5"]],
    ids=["empty", "routing id only", "delimiter in first place only", "no delimiter"],
)
def test_a_request_without_a_delimiter_raises_with_no_envelope_and_no_id(
    frames: list[bytes],
) -> None:
    with pytest.raises(MalformedRequest, match="no empty delimiter") as info:
        parse_request(frames)
    assert info.value.envelope == ()
    assert info.value.request_id is None


def test_an_error_reply_can_be_built_from_a_malformed_request() -> None:
    with pytest.raises(MalformedRequest) as info:
        parse_request([*ROUTED, *request(b"MAGIC")])
    malformed = info.value
    assert malformed.request_id is not None
    frames = build_reply(ZapReply(malformed.envelope, malformed.request_id, 400, malformed.reason))
    assert frames[:5] == [*ROUTED, b"1.0", b"id-7", b"400"]


def test_a_reply_is_built_frame_by_frame_as_rfc_27_lays_it_out() -> None:
    reply = ZapReply(ROUTED, b"id-7", 200, "password matches", "admin")
    assert build_reply(reply) == [
        *ROUTED,
        b"1.0",
        b"id-7",
        b"200",
        b"password matches",
        b"admin",
        b"",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        ZapReply(ROUTED, b"id-7", 200, "ok", "admin"),
        ZapReply((b"\x00proxy", b"\x00peer-1", b""), b"\xff" * 4, 400, "wrong password"),
        ZapReply(ROUTED, b"", 500, "policy raised LookupError: café", "", b"\x05Owner"),
        ZapReply(ROUTED, b"id-7", 300, "try again", "ü-user"),
    ],
)
def test_a_built_reply_parses_back_to_the_same_reply(reply: ZapReply) -> None:
    assert parse_reply(build_reply(reply)) == reply


def test_a_reply_as_a_dealer_receives_it_parses_with_the_delimiter_as_envelope() -> None:
    reply = ZapReply(ROUTED, b"id-7", 200, "ok", "admin")
    received = build_reply(reply)[1:]  # the ROUTER takes the routing id off
    assert parse_reply(received) == ZapReply((b"",), b"id-7", 200, "ok", "admin")


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([b"1.0", b"id-7", b"200", b"ok", b"admin", b"\x05Owner"], "no empty delimiter"),
        ([b"", b"1.0", b"id-7", b"200", b"", b""], "5 frames"),
        ([b"", b"2.0", b"id-7", b"200", b"", b"", b""], "version"),
        ([b"", b"1.0", b"id-7", b"OK", b"", b"", b""], "three digits"),
        ([b"", b"1.0", b"id-7", b"201", b"", b"", b""], "200, 300, 400 or 500"),
    ],
)
def test_a_malformed_reply_is_refused(frames: list[bytes], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_reply(frames)


def test_a_reply_takes_only_the_status_codes_of_rfc_27() -> None:
    with pytest.raises(ValueError, match="200, 300, 400 or 500"):
        ZapReply(ROUTED, b"id-7", 404, "not found")


# ----------------------------------------------------------------------
# The policy, without sockets (trio_zmq._auth_policy)


async def decide(policy: Policy, *frames: bytes) -> Verdict:
    return await policy.decide(parse_request([*ROUTED, *frames]))


async def test_a_policy_decides_a_parsed_request_without_a_socket() -> None:
    policy = Policy()
    policy.deny(["10.0.0.0/8"])
    policy.configure_plain("*", {"admin": "secret"})
    assert await decide(policy, *request(b"NULL")) == Verdict(
        True, "anonymous", "NULL needs no credentials; address is not on the deny list"
    )
    denied = await decide(policy, *request(b"NULL", address=b"10.1.2.3"))
    assert (denied.allowed, denied.status_code, denied.user_id) == (False, 400, "")
    assert denied.reason == "address is on the deny list"
    plain = await decide(policy, *request(b"PLAIN", b"admin", b"secret"))
    assert (plain.status_code, plain.user_id, plain.reason) == (200, "admin", "password matches")


async def test_a_policys_curve_callback_error_propagates_to_the_caller() -> None:
    def broken(domain: str, key: bytes) -> bool:
        raise LookupError("key database unreachable")

    policy = Policy()
    policy.configure_curve_callback("*", broken)
    with pytest.raises(LookupError):
        await decide(policy, *request(b"CURVE", b"k" * 32))


def test_a_refused_configuration_changes_nothing() -> None:
    policy = Policy()
    with pytest.raises(ValueError, match="CIDR"):
        policy.allow(["127.0.0.1", "localhost"])
    policy.deny(["10.0.0.1"])  # no allow list was made, so a deny list may be


# ----------------------------------------------------------------------
# What trio_zmq.auth exports


def test_trio_zmq_auth_exports_exactly_its_all() -> None:
    # "@py_builtins" and the like: pytest rewrites the asserts of every module
    # of a package that registers a pytest plugin, as trio_zmq does.
    public = {name for name in vars(trio_zmq.auth) if not name.startswith(("_", "@"))}
    assert public == set(trio_zmq.auth.__all__)
    for helper in ("logger", "hmac", "logging", "annotations", "zmq", "trio", "Policy"):
        assert not hasattr(trio_zmq.auth, helper), helper


def test_the_public_auth_names_show_as_trio_zmq_auth() -> None:
    for name in trio_zmq.auth.__all__:
        value = getattr(trio_zmq.auth, name)
        if isinstance(value, str):  # the two constants
            continue
        assert value.__module__ == "trio_zmq.auth", name
    assert repr(trio_zmq.auth.Decision).startswith("<class 'trio_zmq.auth.Decision'")


def test_the_re_exported_names_are_the_private_modules_objects() -> None:
    assert trio_zmq.auth.Authenticator is _auth_server.Authenticator
    assert trio_zmq.auth.open_authenticator is _auth_server.open_authenticator
    assert trio_zmq.auth.ZAP_ENDPOINT == _zap.ZAP_ENDPOINT == "inproc://zeromq.zap.01"
    assert trio_zmq.auth.CURVE_ALLOW_ANY == zmq.auth.CURVE_ALLOW_ANY
