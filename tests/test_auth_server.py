"""The ZAP handler (trio_zmq._auth_server): real handshakes, answers, bounds, lifetime.

CURVE, PLAIN and NULL peers over tcp, and requests sent straight to the ZAP
endpoint; what libzmq asks about and what it does not; nothing a peer, a
callback or a path holds stops the authenticator. The policy's rules on
their own are in ``test_auth_policy.py``, the wire format in
``test_zap.py``.
"""

from __future__ import annotations

import collections
import functools
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
import zmq
import zmq.auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zmq.utils import z85

import trio_zmq

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

from trio_zmq._zap import MalformedRequest, parse_reply, parse_request
from trio_zmq.auth import ZAP_ENDPOINT, open_authenticator, serve_authenticator

from .auth_helpers import (
    Certs,
    Decisions,
    assert_nothing_queued,
    collecting_decisions,
    curve_client,
    curve_server,
    decision_of,
    make_certs,
    monitor,
    plain_client,
    request,
    wait_event,
    zap_request,
)
from .helpers import short_temp_dir


@pytest.fixture
def decisions() -> Iterator[Decisions]:
    with collecting_decisions() as handler:
        yield handler


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path)


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
# Certificate directories, through a running authenticator


async def test_a_certificate_directory_named_like_a_glob_pattern_admits_only_its_own_keys(
    ctx: trio_zmq.Context, certs: Certs, tmp_path: Path, decisions: Decisions
) -> None:
    # pyzmq would read certs[1] as the pattern certs1: the stranger's key.
    literal, lookalike = tmp_path / "certs[1]", tmp_path / "certs1"
    literal.mkdir()
    lookalike.mkdir()
    (literal / "client.key").write_bytes((certs.authorized / "client.key").read_bytes())
    (lookalike / "stranger.key").write_bytes((tmp_path / "keys" / "stranger.key").read_bytes())
    async with open_authenticator(ctx) as auth:
        auth.configure_curve("*", literal)
        server = curve_server(ctx, certs)
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as mon:
            endpoint = server.bind("tcp://127.0.0.1:*")
            stranger = curve_client(
                ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint
            )
            await stranger.send(b"intruder")
            assert await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_AUTH) == 400
        client = curve_client(ctx, certs, certs.client_public, certs.client_secret, endpoint)
        await client.send(b"friend")
        assert await server.recv() == b"friend"
        await assert_nothing_queued(server)
    assert [d.allowed for d in decisions.decisions] == [False, True]


async def test_a_certificate_directory_holding_a_junk_key_is_refused_naming_the_file(
    ctx: trio_zmq.Context, tmp_path: Path
) -> None:
    (tmp_path / "junk.key").write_text('metadata\ncurve\n    public-key = "hello"\n')
    async with open_authenticator(ctx) as auth:
        with pytest.raises(ValueError, match=r"junk\.key: a CURVE key in Z85 has 40 characters"):
            auth.configure_curve("*", tmp_path)
        with pytest.raises(OSError, match="certificate directory"):
            auth.configure_curve("*", tmp_path / "missing")
        with pytest.raises(ValueError, match="needs a location"):
            auth.configure_curve("*")
        reply = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
    assert reply[2:4] == [b"400", b"no CURVE policy configured for the domain"]


@pytest.mark.parametrize("kind", [bytes, str], ids=["bytes path", "str path with a surrogate"])
async def test_a_certificate_directory_whose_name_is_not_utf_8_serves_and_shows_it_escaped(
    ctx: trio_zmq.Context, certs: Certs, decisions: Decisions, kind: type
) -> None:
    with short_temp_dir() as root:
        directory = os.fsencode(root) + b"/certs\xff"
        os.mkdir(directory)
        with open(directory + b"/client.key", "wb") as file:
            file.write((certs.authorized / "client.key").read_bytes())
        location = directory if kind is bytes else os.fsdecode(directory)
        async with open_authenticator(ctx) as auth:
            auth.configure_curve("*", location)
            server = curve_server(ctx, certs)
            endpoint = server.bind("tcp://127.0.0.1:*")
            client = curve_client(ctx, certs, certs.client_public, certs.client_secret, endpoint)
            await client.send(b"friend")
            assert await server.recv() == b"friend"
            stranger = z85.decode(certs.stranger_public)
            denied = await zap_request(ctx, *request(b"CURVE", stranger))
            served = await zap_request(ctx, *request(b"NULL"))
    assert denied[2] == b"400"
    assert denied[3].decode("utf-8").endswith("/certs\\xff")
    assert served[2] == b"200"
    allowed = decisions.decisions[0]
    assert allowed.allowed
    assert allowed.reason.endswith("/certs\\xff")


# ----------------------------------------------------------------------
# Nothing a callback or a log handler does stops the authenticator


class Unprintable(Exception):
    """An exception whose message cannot be made."""

    def __str__(self) -> str:
        raise RuntimeError("no message for you")


@pytest.mark.parametrize(
    ("make_error", "shown"),
    [
        (lambda: LookupError("no \udcff key"), "LookupError: no \\udcff key"),
        (Unprintable, "Unprintable: (its message could not be made: str() raised)"),
        (lambda: ValueError("x" * 5000), "ValueError: xxx"),
    ],
    ids=["lone surrogate", "broken __str__", "huge message"],
)
async def test_a_callback_error_whatever_its_message_denies_with_500_and_serving_goes_on(
    ctx: trio_zmq.Context,
    decisions: Decisions,
    make_error: Callable[[], Exception],
    shown: str,
) -> None:
    error = make_error()

    def broken(domain: str, key: bytes) -> bool:
        raise error

    async with open_authenticator(ctx) as auth:
        auth.configure_curve_callback("*", broken)
        failed = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
        served = await zap_request(ctx, *request(b"NULL"))
    assert failed[2] == b"500"
    text = failed[3].decode("utf-8")
    assert text.startswith(f"policy raised {shown}")
    assert len(text) <= 1024
    assert served[2] == b"200"
    (record,) = decisions.at(logging.ERROR)
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    record.getMessage().encode("utf-8")  # the logged text encodes, too
    logging.Formatter().format(record)  # and a formatter can show the traceback


async def test_a_decision_that_cannot_be_logged_is_answered_500_and_serving_goes_on(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    class FailsOnce(logging.Handler):
        failed = False

        def emit(self, record: logging.LogRecord) -> None:
            if hasattr(record, "zap_decision") and not self.failed:
                self.failed = True
                raise OSError("disk full")

    failing = FailsOnce()
    log = logging.getLogger("trio_zmq.auth")
    log.addHandler(failing)
    try:
        async with open_authenticator(ctx):
            unlogged = await zap_request(ctx, *request(b"NULL"))
            logged = await zap_request(ctx, *request(b"NULL"))
    finally:
        log.removeHandler(failing)
    assert unlogged[2:4] == [
        b"500",
        b"internal error: the decision could not be logged: OSError: disk full",
    ]
    assert logged[2] == b"200"
    (error,) = decisions.at(logging.ERROR)
    assert "could not log a ZAP decision; answered instead: denied (500)" in error.getMessage()
    assert decision_of(error).status_code == 500


#: Frames of any kind, and the values a request's fields often hold.
_ANY_FRAME = st.binary(max_size=24)


def _field(*usual: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.sampled_from(usual), _ANY_FRAME)


#: Credentials of the right number and size for each mechanism.
_CREDENTIALS: dict[bytes, st.SearchStrategy[list[bytes]]] = {
    b"NULL": st.just([]),
    b"PLAIN": st.lists(_field(b"admin", b"secret"), min_size=2, max_size=2),
    b"CURVE": st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=1),
    b"GSSAPI": st.lists(_field(b"alice@EXAMPLE.ORG"), min_size=1, max_size=1),
}


@st.composite
def _request_frames(draw: st.DrawFn, *, valid: bool) -> list[bytes]:
    """A request as a DEALER sends it: well-formed, or with any field wrong or missing."""
    envelope = draw(st.lists(st.binary(min_size=1, max_size=8), max_size=2))
    mechanism = draw(st.sampled_from(sorted(_CREDENTIALS)))
    credentials = draw(_CREDENTIALS[mechanism])
    fields = [
        b"1.0",
        draw(st.binary(max_size=8)),  # request id
        draw(_field(b"", b"vault", b"\xff\xfe")),  # domain
        draw(_field(b"127.0.0.1", b"10.1.2.3", b"::ffff:10.1.2.3", b"")),  # address
        draw(st.binary(max_size=8)),  # identity
        mechanism,
        *credentials,
    ]
    if not valid:
        spoilt = draw(st.integers(0, len(fields) - 1))
        if draw(st.booleans()):
            fields[spoilt] = draw(_ANY_FRAME)
        else:
            fields = fields[:spoilt] + draw(st.lists(_ANY_FRAME, max_size=2))
    return [*envelope, b"", *fields]


#: What a DEALER may send the ZAP endpoint: anything at all, a request
#: with something wrong, a well-formed request.
_ZAP_FRAMES = st.one_of(
    st.lists(st.one_of(_ANY_FRAME, st.just(b"")), min_size=1, max_size=8),
    _request_frames(valid=False),
    _request_frames(valid=True),
)


def _decides_at_random(domain: str, key: bytes) -> bool:
    kind = key[-1] % 4
    if kind == 2:
        raise LookupError("no \udcff here")
    if kind == 3:
        raise Unprintable
    return kind == 0


_SENTINEL = (b"sentinel-envelope", b"")


async def _answer_each(sent: list[list[bytes]]) -> None:
    """Send *sent* to a running authenticator, check every reply, then serve a real client."""
    expected: collections.Counter[tuple[tuple[bytes, ...], bytes, bool]] = collections.Counter()
    async with trio_zmq.Context(linger=0) as ctx, open_authenticator(ctx) as auth:
        auth.deny("10.0.0.0/8")
        auth.configure_plain("*", {"admin": "secret"})
        auth.configure_curve_callback("*", _decides_at_random)
        auth.configure_gssapi("vault")
        async with ctx.socket(zmq.DEALER, linger=0) as dealer:
            dealer.connect(ZAP_ENDPOINT)
            for frames in sent:
                try:  # as the ROUTER gets it: a routing id first
                    parsed = parse_request([b"\x00routing-id", *frames])
                    expected[parsed.envelope[1:], parsed.request_id, False] += 1
                except MalformedRequest as malformed:
                    if malformed.request_id is not None:  # otherwise dropped: no id to answer
                        expected[malformed.envelope[1:], malformed.request_id, True] += 1
                await dealer.send_multipart(frames)
            await dealer.send_multipart([*_SENTINEL, *request(b"NULL", request_id=b"last")])
            replies = []
            while (reply := await dealer.recv_multipart())[:3] != [*_SENTINEL, b"1.0"]:
                replies.append(reply)
            await trio.testing.wait_all_tasks_blocked()  # every answer is sent by now
            with pytest.raises(zmq.Again):
                replies.append(await dealer.recv_multipart(zmq.NOBLOCK))
        answered: collections.Counter[tuple[tuple[bytes, ...], bytes, bool]] = collections.Counter()
        for reply in replies:
            parsed_reply = parse_reply(reply)  # well-formed, status of RFC 27
            status_text = reply[len(parsed_reply.envelope) + 3]
            status_text.decode("utf-8")  # strict: always UTF-8
            was_malformed = status_text.startswith(b"malformed request")
            assert parsed_reply.status_code in ({400} if was_malformed else {200, 400, 500})
            if parsed_reply.status_code != 200:
                assert parsed_reply.user_id == ""
            answered[parsed_reply.envelope, parsed_reply.request_id, was_malformed] += 1
        assert answered == expected
        # And the authenticator still serves a real handshake.
        async with ctx.socket(zmq.PULL, plain_server=True) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with ctx.socket(
                zmq.PUSH, plain_username=b"admin", plain_password=b"secret"
            ) as client:
                client.connect(endpoint)
                await client.send(b"served")
                assert await server.recv() == b"served"


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(sent=st.lists(_ZAP_FRAMES, min_size=1, max_size=6))
def test_any_request_frames_get_a_well_formed_answer_or_none_and_serving_goes_on(
    sent: list[list[bytes]],
) -> None:
    async def bounded() -> None:
        with trio.fail_after(10):
            await _answer_each(sent)

    trio.run(bounded)


# ----------------------------------------------------------------------
# Decisions are bounded: how many at once, and how long each


async def test_past_max_decisions_a_request_is_answered_300_at_once(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    release = trio.Event()

    async def waits(domain: str, key: bytes) -> bool:
        await release.wait()
        return True

    async with (
        open_authenticator(ctx, max_decisions=2) as auth,
        ctx.socket(zmq.DEALER) as dealer,
    ):
        auth.configure_curve_callback("*", waits)
        dealer.connect(ZAP_ENDPOINT)
        for n in (1, 2, 3):
            await dealer.send_multipart([b"", *request(b"CURVE", b"k" * 32, request_id=b"%d" % n)])
        turned_away = await dealer.recv_multipart()  # while the first two wait
        release.set()
        decided = sorted([(await dealer.recv_multipart())[2:4] for _ in range(2)])
        await dealer.send_multipart([b"", *request(b"CURVE", b"k" * 32, request_id=b"4")])
        room_again = await dealer.recv_multipart()
    assert turned_away[2:5] == [
        b"3",
        b"300",
        b"temporary error: 2 decisions in flight, the most allowed",
    ]
    assert decided == [[b"1", b"200"], [b"2", b"200"]]
    assert room_again[2:4] == [b"4", b"200"]
    (warning,) = decisions.at(logging.WARNING)
    assert decision_of(warning).status_code == 300


async def test_a_decision_past_its_deadline_is_answered_300_and_serving_goes_on(
    ctx: trio_zmq.Context, decisions: Decisions, autojump_clock: trio.testing.MockClock
) -> None:
    cancelled = trio.Event()

    async def never(domain: str, key: bytes) -> bool:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")  # pragma: no cover

    async with open_authenticator(ctx, decision_timeout=5) as auth:
        auth.configure_curve_callback("*", never)
        started = trio.current_time()
        late = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
        waited = trio.current_time() - started
        served = await zap_request(ctx, *request(b"NULL"))
    assert late[2:4] == [b"300", b"temporary error: no decision within 5 s"]
    assert waited == 5
    assert cancelled.is_set()  # the callback was cancelled, not left behind
    assert served[2] == b"200"
    assert decisions.decisions[0].status_code == 300


async def test_the_default_deadline_applies_without_being_asked_for(
    ctx: trio_zmq.Context, autojump_clock: trio.testing.MockClock
) -> None:
    async def never(domain: str, key: bytes) -> bool:
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async with open_authenticator(ctx) as auth:
        auth.configure_curve_callback("*", never)
        started = trio.current_time()
        late = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
    assert late[2] == b"300"
    assert trio.current_time() - started == trio_zmq.auth.DEFAULT_DECISION_TIMEOUT


@pytest.mark.parametrize(
    ("held", "status"), [(0.5, b"200"), (7.0, b"300")], ids=["within", "past the deadline"]
)
async def test_a_synchronous_callback_that_holds_the_run_is_logged_and_bounded(
    ctx: trio_zmq.Context,
    decisions: Decisions,
    autojump_clock: trio.testing.MockClock,
    held: float,
    status: bytes,
) -> None:
    # A synchronous callback runs in the authenticator's task: nothing can
    # interrupt it, and no other task of the run goes on until it returns.
    def computes(domain: str, key: bytes) -> bool:
        autojump_clock.jump(held)  # as if it computed that long
        return True

    async with open_authenticator(ctx, decision_timeout=5) as auth:
        auth.configure_curve_callback("*", computes)
        reply = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
    assert reply[2] == status
    if status == b"300":
        assert (
            reply[3]
            == f"temporary error: decided after {held:.3g} s, past the deadline of 5 s".encode()
        )
    (warning,) = [r for r in decisions.at(logging.WARNING) if "synchronous" in r.getMessage()]
    assert f"held up the whole Trio run for {held:.3f} s" in warning.getMessage()


async def test_a_quick_synchronous_callback_is_not_warned_about(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.configure_curve_callback("*", lambda domain, key: True)
        reply = await zap_request(ctx, *request(b"CURVE", b"k" * 32))
    assert reply[2] == b"200"
    assert decisions.at(logging.WARNING) == []


async def test_bounds_are_taken_by_serve_authenticator_too(ctx: trio_zmq.Context) -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_authenticator, ctx, max_decisions=1, decision_timeout=math.inf
        )
        auth = await nursery.start(serve)
        release = trio.Event()

        async def waits(domain: str, key: bytes) -> bool:
            await release.wait()
            return True

        auth.configure_curve_callback("*", waits)
        async with ctx.socket(zmq.DEALER) as dealer:
            dealer.connect(ZAP_ENDPOINT)
            for n in (1, 2):
                await dealer.send_multipart(
                    [b"", *request(b"CURVE", b"k" * 32, request_id=b"%d" % n)]
                )
            turned_away = await dealer.recv_multipart()
            release.set()
            decided = await dealer.recv_multipart()
        nursery.cancel_scope.cancel()
    assert turned_away[2:4] == [b"2", b"300"]
    assert decided[2:4] == [b"1", b"200"]


@pytest.mark.parametrize(
    ("bounds", "error", "why"),
    [
        ({"max_decisions": 0}, ValueError, "at least 1"),
        ({"max_decisions": 2.5}, TypeError, "an int"),
        ({"max_decisions": True}, TypeError, "an int"),
        ({"decision_timeout": 0}, ValueError, "above 0"),
        ({"decision_timeout": -1.0}, ValueError, "above 0"),
        ({"decision_timeout": math.nan}, ValueError, "above 0"),
        ({"decision_timeout": "5"}, TypeError, "in seconds"),
    ],
)
async def test_bounds_that_make_no_sense_are_refused_before_anything_is_bound(
    ctx: trio_zmq.Context, bounds: dict[str, object], error: type[Exception], why: str
) -> None:
    with pytest.raises(error, match=why):
        async with open_authenticator(ctx, **bounds):  # type: ignore[arg-type]
            pass  # pragma: no cover
    async with open_authenticator(ctx) as auth:  # nothing was left bound
        assert auth.serving


async def test_long_names_are_logged_cut_and_still_matched_whole(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    domain = "d" * 8_000_000
    user = "u" * 255  # the longest PLAIN user name: not cut
    async with open_authenticator(ctx) as auth:
        auth.configure_plain(domain, {user: "pw"})
        whole = await zap_request(
            ctx, *request(b"PLAIN", user.encode(), b"pw", domain=domain.encode())
        )
        other = await zap_request(
            ctx, *request(b"PLAIN", user.encode(), b"pw", domain=domain[:-1].encode() + b"e")
        )
    assert (whole[2], whole[4]) == (b"200", user.encode())
    assert other[2] == b"400"
    decision = decisions.decisions[0]
    assert len(decision.domain) == 256
    assert decision.domain.endswith("d…")
    assert decision.credential == decision.user_id == user
    assert all(len(r.getMessage()) < 2000 for r in decisions.records)


# ----------------------------------------------------------------------
# Where libzmq does not ask (each claim the docs make, on the real libzmq)


async def test_null_peers_of_a_socket_without_a_zap_domain_are_not_asked_about(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.deny("127.0.0.1")
        server = ctx.socket(zmq.PULL)  # no zap_domain: the deny list does not apply
        endpoint = server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(zmq.PUSH)
        client.connect(endpoint)
        await client.send(b"never asked about")
        assert await server.recv() == b"never asked about"
    assert decisions.decisions == []


@pytest.mark.parametrize(
    ("options", "admitted"),
    [
        ({}, True),
        ({"zap_enforce_domain": 1}, True),
        ({"zap_domain": b"global"}, True),
        ({"zap_enforce_domain": 1, "zap_domain": b"global"}, False),
    ],
    ids=["plain", "enforce alone", "domain alone", "enforce and domain"],
)
async def test_a_curve_server_admits_any_key_while_no_authenticator_runs(
    ctx: trio_zmq.Context, certs: Certs, options: dict[str, Any], admitted: bool
) -> None:
    server = curve_server(ctx, certs, **options)
    async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL) as mon:
        endpoint = server.bind("tcp://127.0.0.1:*")
        stranger = curve_client(ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint)
        await stranger.send(b"anyone")
        if admitted:
            assert await server.recv() == b"anyone"
        else:
            await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            await assert_nothing_queued(server)


async def test_connections_made_before_the_authenticator_starts_stay_connected(
    ctx: trio_zmq.Context, certs: Certs, decisions: Decisions
) -> None:
    server = curve_server(ctx, certs)
    endpoint = server.bind("tcp://127.0.0.1:*")
    early = curve_client(ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint)
    await early.send(b"before")
    assert await server.recv() == b"before"  # no authenticator: any key gets in
    async with open_authenticator(ctx) as auth:
        auth.configure_curve("*", certs.authorized)  # the stranger has no certificate
        await early.send(b"after")
        assert await server.recv() == b"after"  # not asked about again
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as mon:
            curve_client(ctx, certs, certs.stranger_public, certs.stranger_secret, endpoint)
            assert await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_AUTH) == 400
    (decision,) = decisions.decisions  # only the new connection was asked about
    assert not decision.allowed


async def test_a_mapped_address_in_a_deny_list_turns_away_the_ipv4_peer(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.deny("::ffff:127.0.0.1")
        server = ctx.socket(zmq.PULL, zap_domain=b"global")
        async with monitor(server, zmq.EVENT_HANDSHAKE_FAILED_AUTH) as mon:
            endpoint = server.bind("tcp://127.0.0.1:*")  # an IPv4 socket
            client = ctx.socket(zmq.PUSH)
            client.connect(endpoint)
            await client.send(b"turned away")
            assert await wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_AUTH) == 400
        await assert_nothing_queued(server)
    (decision,) = decisions.decisions
    assert (decision.address, decision.reason) == ("127.0.0.1", "address is on the deny list")


async def test_an_ipv4_address_in_an_allow_list_admits_the_peer_an_ipv6_socket_sees_mapped(
    ctx: trio_zmq.Context, decisions: Decisions
) -> None:
    async with open_authenticator(ctx) as auth:
        auth.allow("127.0.0.1")
        server = ctx.socket(zmq.PULL, ipv6=True, zap_domain=b"global")
        try:
            endpoint = server.bind("tcp://[::ffff:127.0.0.1]:*")
        except zmq.ZMQError as exc:  # pragma: no cover - a host without IPv6
            pytest.skip(f"no IPv6 here: {exc}")
        client = ctx.socket(zmq.PUSH)
        client.connect(f"tcp://127.0.0.1:{endpoint.rpartition(':')[2]}")
        await client.send(b"let in")
        frame = await server.recv(copy=False)
    assert frame.bytes == b"let in"
    assert frame.get("Peer-Address") == "::ffff:127.0.0.1"
    (decision,) = decisions.decisions
    assert (decision.allowed, decision.address) == (True, "::ffff:127.0.0.1")
