"""Whom the authenticator admits: address lists, and per domain PLAIN, CURVE, GSSAPI.

A :class:`Policy` holds what the user configured and decides a parsed
request (:class:`~trio_zmq._zap.ZapRequest`) into a :class:`Verdict`. It
neither logs nor touches a socket; the authenticator does both around it.

Deciding is async only because a CURVE callback may be: user code runs
through :func:`~trio_zmq._ki.call_user` and :func:`~trio_zmq._ki.await_user`,
outside trio_zmq's KeyboardInterrupt protection, so Ctrl-C can stop a
callback that never returns. A synchronous callback runs in the caller's
task, and every other task of the run waits until it returns: the policy
measures how long (:attr:`Verdict.blocked`), and the authenticator, which
bounds each decision with a deadline, says so in its log.

An address is one peer whichever form it comes in: an IPv4 address and its
IPv4-mapped IPv6 form (``::ffff:a.b.c.d``, as an ``ipv6=True`` socket
reports IPv4 peers) match the same entries, whichever of the two forms a
list holds.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, final

import trio
from zmq.auth import CURVE_ALLOW_ANY
from zmq.utils import z85

from ._auth_certs import read_public_keys, shown_path
from ._ki import await_user, call_user

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import TypeAlias

    from ._auth_certs import AnyPath
    from ._zap import ZapRequest

    #: A CURVE callback: ``callback(domain, z85_public_key)``, truthy to
    #: allow; a coroutine function's result is awaited.
    CurveCallback: TypeAlias = Callable[[str, bytes], object]

__all__ = ["CURVE_ALLOW_ANY", "CredentialsProvider", "CurvePolicy", "Policy", "Verdict"]

_T = TypeVar("_T")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_MIXED_LISTS = "allow() and deny() do not mix: use an allow list or a deny list"


class CredentialsProvider(Protocol):
    """pyzmq's shape of a CURVE callback: an object with a ``callback`` method."""

    def callback(self, domain: str, key: bytes) -> object:
        """Whether the client with public *key* (Z85) may join *domain*; may be async."""


@final
@dataclass(frozen=True)
class Verdict:
    """What the policy makes of one well-formed request.

    Attributes:
        allowed: whether the handshake may complete.
        user_id: the ``User-Id`` for the peer's messages; empty if denied.
        reason: why, in words.
        blocked: how long, in seconds, a synchronous CURVE callback ran
            while deciding: time in which no other task of the run could.
    """

    allowed: bool
    user_id: str
    reason: str
    blocked: float = 0.0

    @property
    def status_code(self) -> int:
        """The ZAP status for the verdict: 200 allowed, 400 denied."""
        return 200 if self.allowed else 400


@final
@dataclass(frozen=True)
class CurvePolicy:
    """How one domain's CURVE keys are checked: any key, a set of keys, or a callback."""

    allow_any: bool = False
    keys: frozenset[bytes] = frozenset()  # Z85 public keys
    location: str = ""  # as shown_path() shows it
    callback: CurveCallback | None = None

    def __str__(self) -> str:
        if self.allow_any:
            return "any client key"
        if self.callback is not None:
            return f"decided by {self.callback!r}"
        return f"{len(self.keys)} keys from {self.location}"


def _parse_networks(call: str, addresses: Iterable[str]) -> list[_Network]:
    networks = []
    for address in addresses:
        if not isinstance(address, str):
            raise TypeError(f"{call}() takes addresses as str, not {type(address).__name__}")
        try:
            networks.append(ipaddress.ip_network(address.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{call}() takes IP addresses or networks in CIDR form, such as "
                f"'127.0.0.1', '10.0.0.0/8' or '::1/128', not {address!r}"
            ) from None
    return networks


def _both_forms(ip: _Address) -> tuple[_Address, ...]:
    """*ip*, and its other form if it is an IPv4 peer: ``a.b.c.d`` and ``::ffff:a.b.c.d``."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip, ipaddress.IPv6Address(f"::ffff:{ip}")
    if ip.ipv4_mapped is not None:  # an IPv4 peer, as an ipv6=True socket reports it
        return ip, ip.ipv4_mapped
    return (ip,)


def _address_in(address: str, networks: list[_Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # inproc and ipc peers have no IP address
        return False
    # Both forms against every entry: a listed ::ffff:a.b.c.d covers the
    # IPv4 peer a.b.c.d, as a listed a.b.c.d covers the mapped one.
    return any(c in net for c in _both_forms(ip) for net in networks if c.version == net.version)


def _check_domain(call: str, domain: str) -> None:
    # A request's domain is text, so a bytes domain would never match.
    if not isinstance(domain, str):
        raise TypeError(
            f'{call}() takes the domain as str (such as "*" or "global"), '
            f"not {type(domain).__name__}"
        )


def _for_domain(table: Mapping[str, _T], domain: str) -> _T | None:
    """The entry for *domain*, else the one for ``"*"`` (every domain)."""
    if domain in table:
        return table[domain]
    return table.get("*")


@final
class Policy:
    """The rules an authenticator applies; each change counts from the next request.

    Until configured, NULL peers are allowed and PLAIN, CURVE and GSSAPI
    peers denied. ``"*"`` as a domain covers every domain without an entry
    of its own. The configuring methods validate their input and raise
    before changing anything.
    """

    __slots__ = ("_allowed", "_curve", "_denied", "_gssapi", "_passwords")

    def __init__(self) -> None:
        self._allowed: list[_Network] = []
        self._denied: list[_Network] = []
        self._passwords: dict[str, Mapping[str, str]] = {}
        self._curve: dict[str, CurvePolicy] = {}
        self._gssapi: set[str] = set()

    # ------------------------------------------------------------------
    # Configuring

    def allow(self, addresses: Iterable[str]) -> None:
        """Add to the allow list; refused once there is a deny list."""
        if self._denied:
            raise ValueError(_MIXED_LISTS)
        self._allowed.extend(_parse_networks("allow", addresses))

    def deny(self, addresses: Iterable[str]) -> None:
        """Add to the deny list; refused once there is an allow list."""
        if self._allowed:
            raise ValueError(_MIXED_LISTS)
        self._denied.extend(_parse_networks("deny", addresses))

    def configure_plain(self, domain: str, passwords: Mapping[str, str] | None) -> None:
        """Keep *passwords* (not a copy) for *domain*; ``None`` denies every user."""
        _check_domain("configure_plain", domain)
        self._passwords[domain] = passwords if passwords is not None else {}

    def configure_curve(self, domain: str, location: AnyPath) -> CurvePolicy:
        """Check *domain*'s keys against a certificate directory, read now, or allow any.

        The directory is read as the literal path it is, and every key in
        it checked, before anything changes (see
        :func:`~trio_zmq._auth_certs.read_public_keys`).
        """
        _check_domain("configure_curve", domain)
        if isinstance(location, str) and location == CURVE_ALLOW_ANY:
            policy = CurvePolicy(allow_any=True)
        elif not isinstance(location, (str, bytes, os.PathLike)):
            raise TypeError(
                "configure_curve() takes the location as a path (str, bytes or a path object) "
                f"or zmq.auth.CURVE_ALLOW_ANY, not {type(location).__name__}"
            )
        elif not os.fspath(location):
            raise ValueError(
                "configure_curve() needs a location: a directory of public certificates, "
                "or zmq.auth.CURVE_ALLOW_ANY"
            )
        else:
            keys = read_public_keys(location)
            policy = CurvePolicy(keys=keys, location=shown_path(location))
        self._curve[domain] = policy
        return policy

    def configure_curve_callback(
        self, domain: str, credentials_provider: CurveCallback | CredentialsProvider | None
    ) -> CurvePolicy:
        """Let a callable, or an object's ``callback`` method, decide *domain*'s keys."""
        _check_domain("configure_curve_callback", domain)
        if credentials_provider is None:
            raise TypeError("configure_curve_callback() needs a credentials_provider")
        method = getattr(credentials_provider, "callback", None)
        callback = method if callable(method) else credentials_provider
        if not callable(callback):
            raise TypeError(
                "credentials_provider must be callable as f(domain, key), "
                f"or have such a callback method; got {type(credentials_provider).__name__}"
            )
        policy = CurvePolicy(callback=callback)
        self._curve[domain] = policy
        return policy

    def configure_gssapi(self, domain: str) -> None:
        """Admit *domain*'s GSSAPI principals (libzmq has checked them)."""
        _check_domain("configure_gssapi", domain)
        self._gssapi.add(domain)

    # ------------------------------------------------------------------
    # Deciding

    async def decide(self, request: ZapRequest) -> Verdict:
        """The verdict on a well-formed *request*.

        Awaits only a CURVE callback that is a coroutine function; whatever
        a callback raises propagates.
        """
        admitted, why = self._check_address(request.address)
        if admitted is False:
            return Verdict(False, "", why)
        if request.mechanism == "NULL":
            return Verdict(True, "anonymous", f"NULL needs no credentials; {why}")
        blocked = 0.0
        if request.mechanism == "PLAIN":
            allowed, reason = self._check_plain(request.domain, request.credentials)
        elif request.mechanism == "CURVE":
            allowed, reason, blocked = await self._check_curve(
                request.domain, request.credentials[0]
            )
        elif request.domain in self._gssapi or "*" in self._gssapi:
            # libzmq has authenticated the principal; admit it per domain.
            allowed, reason = True, "GSSAPI is configured for the domain"
        else:
            allowed, reason = False, "GSSAPI is not configured for the domain"
        if admitted:
            reason = f"{why}; {reason}"
        return Verdict(allowed, request.credential if allowed else "", reason, blocked)

    def _check_address(self, address: str) -> tuple[bool | None, str]:
        """Address lists: (True admitted, False denied, None no opinion), why."""
        if self._allowed:
            if _address_in(address, self._allowed):
                return True, "address is on the allow list"
            return False, "address is not on the allow list"
        if self._denied:
            if _address_in(address, self._denied):
                return False, "address is on the deny list"
            return None, "address is not on the deny list"
        return None, "no address lists"

    def _check_plain(self, domain: str, credentials: tuple[bytes, ...]) -> tuple[bool, str]:
        passwords = _for_domain(self._passwords, domain)
        if passwords is None:
            return False, "no PLAIN passwords configured for the domain"
        try:
            username = credentials[0].decode("utf-8")
        except UnicodeDecodeError:
            return False, "user name is not UTF-8"
        expected = passwords.get(username)
        if expected is None:
            return False, "unknown user"
        if not hmac.compare_digest(expected.encode("utf-8"), credentials[1]):
            return False, "wrong password"
        return True, "password matches"

    async def _check_curve(self, domain: str, key: bytes) -> tuple[bool, str, float]:
        """Whether *key* may join *domain*, why, and how long a callback held the run."""
        policy = _for_domain(self._curve, domain)
        if policy is None:
            return False, "no CURVE policy configured for the domain", 0.0
        if policy.allow_any:
            return True, "any CURVE key is allowed (CURVE_ALLOW_ANY)", 0.0
        z85_key = z85.encode(key)
        if policy.callback is not None:
            # User code: run where Ctrl-C can stop it, sync or async. Calling
            # a coroutine function only makes its coroutine, so the time
            # measured is the time the callback kept every other task waiting.
            started = trio.current_time()
            verdict = call_user(policy.callback, domain or "*", z85_key)
            blocked = trio.current_time() - started
            if inspect.isawaitable(verdict):
                verdict = await await_user(verdict)
            if verdict:
                return True, "callback allowed the key", blocked
            return False, "callback refused the key", blocked
        if z85_key in policy.keys:
            return True, f"key has a certificate in {policy.location}", 0.0
        return False, f"key has no certificate in {policy.location}", 0.0
