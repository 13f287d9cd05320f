"""Whom the authenticator admits, without sockets (trio_zmq._auth_policy).

A :class:`Policy` decides parsed requests; these tests make the requests
with :mod:`trio_zmq._zap` and read the :class:`Verdict`. What reaches a
peer through a running authenticator is in ``test_auth_server.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
import zmq
import zmq.auth
from zmq.utils import z85

from trio_zmq._auth_policy import Policy, Verdict
from trio_zmq._zap import parse_request

from .auth_helpers import ROUTED, request


async def decide(policy: Policy, *frames: bytes) -> Verdict:
    return await policy.decide(parse_request([*ROUTED, *frames]))


def write_key(path: Path, key: bytes) -> None:
    path.write_text(f'curve\n    public-key = "{key.decode()}"\n')


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


def test_a_refused_configuration_changes_nothing() -> None:
    policy = Policy()
    with pytest.raises(ValueError, match="CIDR"):
        policy.allow(["127.0.0.1", "localhost"])
    policy.deny(["10.0.0.1"])  # no allow list was made, so a deny list may be


# ----------------------------------------------------------------------
# Address lists


@pytest.mark.parametrize(
    ("method", "listed", "address", "allowed"),
    [
        ("allow", "10.0.0.0/8", b"10.200.3.4", True),
        ("allow", "10.0.0.0/8", b"11.0.0.1", False),
        ("allow", "::1/128", b"::1", True),
        ("allow", "2001:db8::/32", b"2001:db9::1", False),
        ("allow", "127.0.0.1", b"", False),
        ("deny", "192.168.0.0/16", b"192.168.4.4", False),
        ("deny", "192.168.0.0/16", b"192.169.0.1", True),
        ("deny", "fe80::/10", b"fe80::1", False),
        ("deny", "127.0.0.1", b"", True),
    ],
)
async def test_address_lists_match_addresses_and_cidr_networks(
    method: str, listed: str, address: bytes, allowed: bool
) -> None:
    policy = Policy()
    getattr(policy, method)([listed])
    assert (await decide(policy, *request(b"NULL", address=address))).allowed is allowed


@pytest.mark.parametrize(
    ("method", "listed", "address", "allowed"),
    [
        # The peer in the other form: an IPv4 peer of an ipv6=True socket.
        ("allow", "127.0.0.1", b"::ffff:127.0.0.1", True),
        ("deny", "127.0.0.1", b"::ffff:127.0.0.1", False),
        ("deny", "10.0.0.0/8", b"::ffff:10.9.8.7", False),
        # The list in the other form.
        ("deny", "::ffff:127.0.0.1", b"127.0.0.1", False),
        ("allow", "::ffff:127.0.0.1", b"127.0.0.1", True),
        ("deny", "::ffff:10.0.0.0/104", b"10.9.8.7", False),
        ("deny", "::ffff:10.0.0.0/104", b"11.0.0.1", True),
        # Both in the mapped form, and a network that covers every mapped address.
        ("allow", "::ffff:127.0.0.1", b"::ffff:127.0.0.1", True),
        ("deny", "::/0", b"192.0.2.1", False),
        # Not an IPv4 peer: no other form.
        ("deny", "::ffff:127.0.0.1", b"::1", True),
        ("allow", "127.0.0.1", b"::127.0.0.1", False),  # IPv4-compatible, not mapped
    ],
)
async def test_an_ipv4_address_and_its_mapped_form_match_each_other_both_ways(
    method: str, listed: str, address: bytes, allowed: bool
) -> None:
    policy = Policy()
    getattr(policy, method)([listed])
    assert (await decide(policy, *request(b"NULL", address=address))).allowed is allowed


def test_allow_and_deny_lists_do_not_mix() -> None:
    policy = Policy()
    policy.allow(["127.0.0.1"])
    with pytest.raises(ValueError, match="do not mix"):
        policy.deny(["10.0.0.1"])


def test_an_entry_that_is_no_address_is_refused_at_once() -> None:
    policy = Policy()
    with pytest.raises(ValueError, match="CIDR"):
        policy.allow(["localhost"])
    with pytest.raises(ValueError, match="CIDR"):
        policy.deny(["10.0.0.0/33"])
    with pytest.raises(TypeError, match="as str, not bytes"):
        policy.deny([b"10.0.0.1"])  # type: ignore[list-item]


# ----------------------------------------------------------------------
# PLAIN


async def test_plain_passwords_for_star_cover_every_domain_without_its_own() -> None:
    policy = Policy()
    policy.configure_plain("*", {"anyone": "pw"})
    policy.configure_plain("vault", {"keeper": "pw"})
    elsewhere = await decide(policy, *request(b"PLAIN", b"anyone", b"pw", domain=b"x"))
    in_vault = await decide(policy, *request(b"PLAIN", b"anyone", b"pw", domain=b"vault"))
    keeper = await decide(policy, *request(b"PLAIN", b"keeper", b"pw", domain=b"vault"))
    unset = await decide(policy, *request(b"PLAIN", b"anyone", b"pw"))
    assert [elsewhere.allowed, in_vault.allowed, keeper.allowed, unset.allowed] == [
        True,
        False,
        True,
        True,
    ]


@pytest.mark.parametrize("passwords", [None, {}])
async def test_no_passwords_or_an_empty_map_denies_every_plain_peer(
    passwords: dict[str, str] | None,
) -> None:
    policy = Policy()
    policy.configure_plain("*", passwords)
    verdict = await decide(policy, *request(b"PLAIN", b"", b""))
    assert not verdict.allowed
    assert verdict.reason == "unknown user"


async def test_policy_changes_apply_from_the_next_decision() -> None:
    plain = request(b"PLAIN", b"admin", b"secret")
    policy = Policy()
    before = await decide(policy, *plain)
    passwords = {"admin": "secret"}
    policy.configure_plain("*", passwords)
    configured = await decide(policy, *plain)
    passwords["admin"] = "changed"  # the mapping is kept, as in pyzmq
    changed = await decide(policy, *plain)
    assert [before.allowed, configured.allowed, changed.allowed] == [False, True, False]


# ----------------------------------------------------------------------
# CURVE


async def test_curve_policies_are_per_domain_with_star_as_the_fallback(tmp_path: Path) -> None:
    write_key(tmp_path / "client.key", zmq.curve_keypair()[0])
    unknown = b"u" * 32
    policy = Policy()
    policy.configure_curve("*", zmq.auth.CURVE_ALLOW_ANY)
    policy.configure_curve("vault", tmp_path)
    elsewhere = await decide(policy, *request(b"CURVE", unknown, domain=b"x"))
    in_vault = await decide(policy, *request(b"CURVE", unknown, domain=b"vault"))
    assert (elsewhere.allowed, in_vault.allowed) == (True, False)
    assert in_vault.reason == f"key has no certificate in {tmp_path}"


async def test_a_curve_key_in_a_directory_named_like_a_pattern_is_looked_up_there(
    tmp_path: Path,
) -> None:
    mine, stranger = zmq.curve_keypair()[0], zmq.curve_keypair()[0]
    (tmp_path / "certs[1]").mkdir()
    (tmp_path / "certs1").mkdir()
    write_key(tmp_path / "certs[1]" / "client.key", mine)
    write_key(tmp_path / "certs1" / "stranger.key", stranger)
    policy = Policy()
    policy.configure_curve("*", tmp_path / "certs[1]")
    admitted = await decide(policy, *request(b"CURVE", z85.decode(mine)))
    kept_out = await decide(policy, *request(b"CURVE", z85.decode(stranger)))
    assert (admitted.allowed, kept_out.allowed) == (True, False)


async def test_a_refused_certificate_directory_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "junk.key").write_text('public-key = "hello"\n')
    policy = Policy()
    policy.configure_curve("*", zmq.auth.CURVE_ALLOW_ANY)
    with pytest.raises(ValueError, match="junk.key"):
        policy.configure_curve("*", tmp_path)
    with pytest.raises(OSError, match="certificate directory"):
        policy.configure_curve("*", tmp_path / "missing")
    with pytest.raises(ValueError, match="needs a location"):
        policy.configure_curve("*", "")
    with pytest.raises(TypeError, match="as a path"):
        policy.configure_curve("*", 7)  # type: ignore[arg-type]
    assert (await decide(policy, *request(b"CURVE", b"k" * 32))).allowed  # still ALLOW_ANY


async def test_a_curve_callback_may_be_a_pyzmq_style_credentials_provider() -> None:
    key = b"k" * 32

    class Provider:
        def callback(self, domain: str, z85_key: bytes) -> bool:
            return domain == "vault" and z85_key == z85.encode(key)

    policy = Policy()
    policy.configure_curve_callback("vault", Provider())
    verdict = await decide(policy, *request(b"CURVE", key, domain=b"vault"))
    assert (verdict.allowed, verdict.user_id) == (True, z85.encode(key).decode())


async def test_a_policys_curve_callback_error_propagates_to_the_caller() -> None:
    def broken(domain: str, key: bytes) -> bool:
        raise LookupError("key database unreachable")

    policy = Policy()
    policy.configure_curve_callback("*", broken)
    with pytest.raises(LookupError):
        await decide(policy, *request(b"CURVE", b"k" * 32))


async def test_the_time_a_synchronous_callback_holds_the_run_is_measured(
    autojump_clock: trio.testing.MockClock,
) -> None:
    def slow(domain: str, key: bytes) -> bool:
        autojump_clock.jump(0.75)  # as if it computed for 0.75 s
        return True

    async def waits(domain: str, key: bytes) -> bool:
        await trio.sleep(5)  # other tasks run meanwhile
        return True

    policy = Policy()
    policy.configure_curve_callback("slow", slow)
    policy.configure_curve_callback("waits", waits)
    blocking = await decide(policy, *request(b"CURVE", b"k" * 32, domain=b"slow"))
    waiting = await decide(policy, *request(b"CURVE", b"k" * 32, domain=b"waits"))
    assert (blocking.allowed, blocking.blocked) == (True, 0.75)
    assert (waiting.allowed, waiting.blocked) == (True, 0.0)


# ----------------------------------------------------------------------
# GSSAPI


async def test_gssapi_is_denied_until_configured() -> None:
    gssapi = request(b"GSSAPI", b"alice@EXAMPLE.ORG")
    policy = Policy()
    before = await decide(policy, *gssapi)
    policy.configure_gssapi("*")
    after = await decide(policy, *gssapi)
    assert (before.allowed, after.allowed) == (False, True)
    assert after.user_id == "alice@EXAMPLE.ORG"
