"""ZeroMQ authentication (ZAP, RFC 27) as a task in a Trio nursery.

libzmq asks whoever is bound to ``inproc://zeromq.zap.01`` in a socket's
context whether a peer may complete its handshake (CURVE keys, PLAIN
passwords, the peer's IP address). This module answers those requests::

    async with trio_zmq.auth.open_authenticator(ctx) as auth:
        auth.allow("127.0.0.1", "10.0.0.0/8")
        auth.configure_curve(domain="*", location="public_keys")
        ...  # make and use secured sockets of ctx here

or, in a nursery you already have,
``auth = await nursery.start(trio_zmq.auth.serve_authenticator, ctx)``.

The policy methods are those of pyzmq's ``zmq.auth.Authenticator``. Every
decision is logged on the ``trio_zmq.auth`` logger at ``INFO``, with the
decision attached to the log record as ``record.zap_decision`` (a
:class:`Decision`). Certificates are pyzmq's: make them with
``zmq.auth.create_certificates(directory, name)`` and read them with
``zmq.auth.load_certificate(path)``.

Start the authenticator before a secured socket binds or connects, and keep
it running for as long as such sockets are open: while no ZAP handler is
bound in its context, a libzmq CURVE server accepts a client with any key
(it still encrypts). PLAIN servers refuse everyone then.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import inspect
import ipaddress
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NoReturn, Protocol, TypeVar, final

import trio
import zmq
from zmq.auth import CURVE_ALLOW_ANY, load_certificates
from zmq.utils import z85

from ._context import Context
from ._groups import unwrap_groups
from ._ki import await_user, call_user

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Mapping
    from typing import TypeAlias

    from ._socket import Socket

    #: A CURVE callback: ``callback(domain, z85_public_key)``, truthy to
    #: allow; a coroutine function's result is awaited.
    CurveCallback: TypeAlias = Callable[[str, bytes], object]

__all__ = [
    "CURVE_ALLOW_ANY",
    "ZAP_ENDPOINT",
    "Authenticator",
    "CredentialsProvider",
    "Decision",
    "open_authenticator",
    "serve_authenticator",
]

#: Where libzmq sends ZAP requests, in each context (RFC 27).
ZAP_ENDPOINT: Final = "inproc://zeromq.zap.01"

_VERSION = b"1.0"
_MECHANISMS = {"NULL": 0, "PLAIN": 2, "CURVE": 1, "GSSAPI": 1}  # name: credential frames
_CURVE_KEY_BYTES = 32

logger = logging.getLogger("trio_zmq.auth")

_T = TypeVar("_T")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CredentialsProvider(Protocol):
    """pyzmq's shape of a CURVE callback: an object with a ``callback`` method."""

    def callback(self, domain: str, key: bytes) -> object:
        """Whether the client with public *key* (Z85) may join *domain*; may be async."""


@final
@dataclass(frozen=True)
class Decision:
    """One answer the authenticator gave, as attached to its log record.

    Attributes:
        allowed: whether the handshake may complete.
        status_code: the ZAP status sent: 200 allowed, 400 denied or
            malformed request, 500 the policy failed (a callback raised, or
            the authenticator stopped while deciding).
        mechanism: ``"NULL"``, ``"PLAIN"``, ``"CURVE"``, ``"GSSAPI"``, or
            whatever a malformed request named.
        address: the peer's IP address as libzmq reported it (empty for
            ``inproc`` and ``ipc``).
        domain: the ZAP domain of the socket being connected to
            (``ZAP_DOMAIN``; empty if unset).
        credential: who the peer says it is: the PLAIN user name, the CURVE
            public key in Z85, the GSSAPI principal; empty for NULL.
            Never a password.
        user_id: the ``User-Id`` given to the peer's messages, if allowed.
        reason: why, in words.
    """

    allowed: bool
    status_code: int
    mechanism: str
    address: str
    domain: str
    credential: str
    user_id: str
    reason: str

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else f"denied ({self.status_code})"
        who = f" {self.credential!r}" if self.credential else ""
        return (
            f"{verdict} {self.mechanism or '?'} peer{who} at {self.address or 'a local endpoint'}"
            f" for domain {self.domain!r}: {self.reason}"
        )


@dataclass(frozen=True)
class _CurvePolicy:
    allow_any: bool = False
    keys: frozenset[bytes] = frozenset()  # Z85 public keys
    location: str = ""
    callback: CurveCallback | None = None


class _Malformed(Exception):
    """A request that does not follow RFC 27.

    *reason* becomes the reply's status text; *request_id* is ``None`` when
    the request is too broken to be answered.
    """

    def __init__(self, reason: str, request_id: bytes | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


@dataclass(frozen=True)
class _Request:
    envelope: list[bytes]
    request_id: bytes
    domain: str
    address: str
    mechanism: str
    credentials: list[bytes]


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


def _address_in(address: str, networks: list[_Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # inproc and ipc peers have no IP address
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)  # an IPv4 peer of an ipv6=True socket
    return any(c in net for c in candidates for net in networks if c.version == net.version)


def _parse(frames: list[bytes]) -> _Request:
    """Split a request received on the ROUTER into envelope and RFC 27 fields.

    Raises:
        _Malformed: the request breaks RFC 27.
    """
    # The envelope is the routing id plus the empty delimiter a REQ-style
    # requester (libzmq's ZAP client, a REQ, a DEALER sending b"" first) puts
    # before the request.
    try:
        split = frames.index(b"", 1) + 1
    except ValueError:
        raise _Malformed("no empty delimiter frame before the request", None) from None
    envelope, body = frames[:split], frames[split:]
    if len(body) < 2:
        raise _Malformed(f"{len(body)} frames, too few to hold a request id", None)
    version, request_id = body[0], body[1]
    if version != _VERSION:
        raise _Malformed(f"unsupported ZAP version {version!r}; only 1.0 is spoken", request_id)
    if len(body) < 6:
        raise _Malformed(f"{len(body)} frames; a ZAP 1.0 request has at least 6", request_id)
    mechanism = body[5].decode("ascii", "replace")
    credentials = body[6:]
    expected = _MECHANISMS.get(mechanism)
    if expected is None:
        raise _Malformed(f"unknown mechanism {mechanism!r}", request_id)
    if len(credentials) != expected:
        raise _Malformed(
            f"{mechanism} takes {expected} credential frames, not {len(credentials)}", request_id
        )
    if mechanism == "CURVE" and len(credentials[0]) != _CURVE_KEY_BYTES:
        raise _Malformed(f"a CURVE key has 32 bytes, not {len(credentials[0])}", request_id)
    return _Request(
        envelope=envelope,
        request_id=request_id,
        domain=body[2].decode("utf-8", "replace"),
        address=body[3].decode("utf-8", "replace"),
        mechanism=mechanism,
        credentials=credentials,
    )


def _salvage(body: list[bytes]) -> tuple[str, str, str]:
    """Domain, address and mechanism of a malformed request, as far as it has them."""

    def field(index: int) -> str:
        return body[index].decode("utf-8", "replace") if len(body) > index else ""

    return field(2), field(3), field(5)


def _for_domain(table: Mapping[str, _T], domain: str) -> _T | None:
    """The entry for *domain*, else the one for ``"*"`` (every domain)."""
    if domain in table:
        return table[domain]
    return table.get("*")


@final
class Authenticator:
    """The policy of a running ZAP handler; get one from :func:`open_authenticator`.

    Until a policy is configured, NULL peers are allowed (ZeroMQ's classic
    behaviour) and PLAIN, CURVE and GSSAPI peers are denied. Every change
    applies from the next handshake on; handshakes already completed stay.
    ``"*"`` as a domain covers every domain that has no entry of its own.
    """

    __slots__ = ("_allowed", "_curve", "_denied", "_gssapi", "_passwords", "_socket")

    _socket: Socket
    _allowed: list[_Network]
    _denied: list[_Network]
    _passwords: dict[str, Mapping[str, str]]
    _curve: dict[str, _CurvePolicy]
    _gssapi: set[str]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "an Authenticator comes from `async with trio_zmq.auth.open_authenticator(ctx)` "
            "or `await nursery.start(trio_zmq.auth.serve_authenticator, ctx)`"
        )

    @classmethod
    def _create(cls, zap_socket: Socket) -> Authenticator:
        self = object.__new__(cls)
        self._socket = zap_socket
        self._allowed = []
        self._denied = []
        self._passwords = {}
        self._curve = {}
        self._gssapi = set()
        return self

    def __repr__(self) -> str:
        state = "stopped" if self._socket.closed else f"serving {ZAP_ENDPOINT}"
        return f"<trio_zmq.auth.Authenticator {state} at {id(self):#x}>"

    @property
    def serving(self) -> bool:
        """Whether the ZAP socket is still bound and answering."""
        return not self._socket.closed

    # ------------------------------------------------------------------
    # Policy

    def allow(self, *addresses: str) -> None:
        """Let peers from these addresses or CIDR networks through; deny all others.

        For NULL this admits the peer; PLAIN, CURVE and GSSAPI peers must
        still authenticate. Accepts ``"192.168.1.7"``, ``"10.0.0.0/8"``,
        ``"::1/128"``; an IPv4 peer seen by an IPv6 socket
        (``::ffff:a.b.c.d``) matches its IPv4 form. Peers without an IP
        address (``inproc``, ``ipc``) match no entry.

        Raises:
            ValueError: an entry is not an address or network, or
                :meth:`deny` was used: use one list or the other.
        """
        if self._denied:
            raise ValueError("allow() and deny() do not mix: use an allow list or a deny list")
        self._allowed.extend(_parse_networks("allow", addresses))
        logger.info("allowing only peers from %s", ", ".join(addresses) or "(nothing new)")

    def deny(self, *addresses: str) -> None:
        """Turn away peers from these addresses or CIDR networks; others go on.

        Takes the same forms as :meth:`allow`.

        Raises:
            ValueError: an entry is not an address or network, or
                :meth:`allow` was used: use one list or the other.
        """
        if self._allowed:
            raise ValueError("allow() and deny() do not mix: use an allow list or a deny list")
        self._denied.extend(_parse_networks("deny", addresses))
        logger.info("denying peers from %s", ", ".join(addresses) or "(nothing new)")

    def configure_plain(
        self, domain: str = "*", passwords: Mapping[str, str] | None = None
    ) -> None:
        """Check PLAIN peers of *domain* against *passwords* (user name: password).

        The mapping is kept, not copied (as pyzmq does): changes to it apply
        from the next handshake. ``None`` or an empty mapping denies every
        PLAIN peer of the domain. Passwords are compared in constant time
        and never logged.
        """
        self._passwords[domain] = passwords if passwords is not None else {}
        logger.info("PLAIN for domain %r: %d users", domain, len(self._passwords[domain]))

    def configure_curve(self, domain: str = "*", location: str | os.PathLike[str] = "") -> None:
        """Check CURVE peers of *domain* against a directory of public certificates.

        Args:
            domain: the ZAP domain, ``"*"`` for every domain.
            location: a directory of certificates (the ``*.key`` files
                ``zmq.auth.create_certificates`` writes; only their public
                keys are read), or :data:`CURVE_ALLOW_ANY` to let any key in
                (encryption without client authentication).

        The directory is read now, without waiting; call again after adding
        or removing certificates. Replaces any callback set for *domain*.

        Raises:
            OSError: *location* is not a directory.
            ValueError: a certificate file holds no public key.
        """
        if isinstance(location, str) and location == CURVE_ALLOW_ANY:
            self._curve[domain] = _CurvePolicy(allow_any=True)
            logger.info("CURVE for domain %r: any client key", domain)
            return
        if not location:
            raise ValueError(
                "configure_curve() needs a location: a directory of public certificates, "
                "or zmq.auth.CURVE_ALLOW_ANY"
            )
        keys = frozenset(load_certificates(location))
        self._curve[domain] = _CurvePolicy(keys=keys, location=os.fspath(location))
        logger.info("CURVE for domain %r: %d keys from %s", domain, len(keys), location)

    def configure_curve_callback(
        self,
        domain: str = "*",
        credentials_provider: CurveCallback | CredentialsProvider | None = None,
    ) -> None:
        """Let a callback decide which CURVE keys may join *domain*.

        Args:
            domain: the ZAP domain, ``"*"`` for every domain.
            credentials_provider: ``f(domain, key)`` returning something
                truthy to allow, where *key* is the client's public key in
                Z85 (bytes) and *domain* the request's (``"*"`` if unset);
                or an object with such a ``callback`` method (pyzmq's form).
                A coroutine function is awaited; other handshakes are
                answered meanwhile. If it raises, the peer is denied with
                status 500 and the error is logged. It runs outside
                trio_zmq's KeyboardInterrupt protection: Ctrl-C can stop it.

        Replaces any certificate directory set for *domain*.
        """
        if credentials_provider is None:
            raise TypeError("configure_curve_callback() needs a credentials_provider")
        method = getattr(credentials_provider, "callback", None)
        callback = method if callable(method) else credentials_provider
        if not callable(callback):
            raise TypeError(
                "credentials_provider must be callable as f(domain, key), "
                f"or have such a callback method; got {type(credentials_provider).__name__}"
            )
        self._curve[domain] = _CurvePolicy(callback=callback)
        logger.info("CURVE for domain %r: decided by %r", domain, callback)

    def configure_gssapi(self, domain: str = "*", location: str | None = None) -> None:
        """Admit GSSAPI peers of *domain*, with their principal as user id.

        The GSSAPI exchange itself (Kerberos) is checked by libzmq; unlike
        pyzmq, GSSAPI peers are denied until this is called. *location* is
        accepted for pyzmq compatibility and ignored.
        """
        self._gssapi.add(domain)
        logger.info("GSSAPI for domain %r: principals admitted", domain)

    # ------------------------------------------------------------------
    # Deciding

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

    async def _decide(self, req: _Request) -> tuple[bool, str, str, str]:
        """(allowed, credential shown in logs, user id, reason) for a valid request."""
        admitted, why = self._check_address(req.address)
        credential = ""
        if req.mechanism == "PLAIN":
            credential = req.credentials[0].decode("utf-8", "replace")
        elif req.mechanism == "CURVE":
            credential = z85.encode(req.credentials[0]).decode("ascii")
        elif req.mechanism == "GSSAPI":
            credential = req.credentials[0].decode("utf-8", "replace")
        if admitted is False:
            return False, credential, "", why
        if req.mechanism == "NULL":
            return True, credential, "anonymous", f"NULL needs no credentials; {why}"
        if req.mechanism == "PLAIN":
            allowed, reason = self._check_plain(req.domain, req.credentials)
        elif req.mechanism == "CURVE":
            allowed, reason = await self._check_curve(req.domain, req.credentials[0])
        elif req.domain in self._gssapi or "*" in self._gssapi:
            # libzmq has authenticated the principal; admit it per domain.
            allowed, reason = True, "GSSAPI is configured for the domain"
        else:
            allowed, reason = False, "GSSAPI is not configured for the domain"
        if admitted:
            reason = f"{why}; {reason}"
        return allowed, credential, credential if allowed else "", reason

    def _check_plain(self, domain: str, credentials: list[bytes]) -> tuple[bool, str]:
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

    async def _check_curve(self, domain: str, key: bytes) -> tuple[bool, str]:
        policy = _for_domain(self._curve, domain)
        if policy is None:
            return False, "no CURVE policy configured for the domain"
        if policy.allow_any:
            return True, "any CURVE key is allowed (CURVE_ALLOW_ANY)"
        z85_key = z85.encode(key)
        if policy.callback is not None:
            # User code: run where Ctrl-C can stop it, sync or async.
            verdict = call_user(policy.callback, domain or "*", z85_key)
            if inspect.isawaitable(verdict):
                verdict = await await_user(verdict)
            if verdict:
                return True, "callback allowed the key"
            return False, "callback refused the key"
        if z85_key in policy.keys:
            return True, f"key has a certificate in {policy.location}"
        return False, f"key has no certificate in {policy.location}"

    # ------------------------------------------------------------------
    # Serving

    def _reply(self, envelope: list[bytes], request_id: bytes, decision: Decision) -> None:
        frames = [
            *envelope,
            _VERSION,
            request_id,
            str(decision.status_code).encode("ascii"),
            decision.reason.encode("utf-8"),
            decision.user_id.encode("utf-8"),
            b"",  # metadata
        ]
        try:
            # A ROUTER never waits to send: a reply to a requester that has
            # gone is dropped. So replying is synchronous, and possible even
            # while this task is being cancelled.
            self._socket.send_multipart_nowait(frames)
        except (trio.WouldBlock, trio.ClosedResourceError, zmq.ZMQError) as exc:
            logger.warning("could not send the ZAP reply (%s): %s", exc, decision)

    def _log(self, decision: Decision, exc_info: BaseException | None = None) -> None:
        level = logging.ERROR if decision.status_code == 500 else logging.INFO
        logger.log(level, "%s", decision, extra={"zap_decision": decision}, exc_info=exc_info)

    async def _answer(self, frames: list[bytes]) -> None:
        """Answer one request; never raises except ``trio.Cancelled``."""
        try:
            req = _parse(frames)
        except _Malformed as exc:
            reason, request_id = exc.reason, exc.request_id
            # The frames are not logged: they may hold a password.
            if request_id is None:
                logger.warning(
                    "malformed ZAP request (%d frames), cannot reply: %s", len(frames), reason
                )
                return
            split = frames.index(b"", 1) + 1
            envelope = frames[:split]
            domain, address, mechanism = _salvage(frames[split:])
            decision = Decision(
                False, 400, mechanism, address, domain, "", "", f"malformed request: {reason}"
            )
            logger.warning(
                "malformed ZAP request, answered 400: %s",
                decision,
                extra={"zap_decision": decision},
            )
            self._reply(envelope, request_id, decision)
            return
        status, text = 500, "authenticator stopped while deciding"
        failure: BaseException | None = None
        allowed, credential, user_id = False, "", ""
        try:
            allowed, credential, user_id, text = await self._decide(req)
            status = 200 if allowed else 400
        except Exception as exc:
            failure, text = exc, f"policy raised {type(exc).__name__}: {exc}"
        finally:
            # Also on cancellation: the handshake gets an answer, not a hang.
            decision = Decision(
                allowed, status, req.mechanism, req.address, req.domain, credential, user_id, text
            )
            self._log(decision, failure)
            self._reply(req.envelope, req.request_id, decision)

    async def _serve(self) -> NoReturn:
        async with trio.open_nursery() as nursery:
            while True:
                try:
                    frames = await self._socket.recv_multipart()
                except trio.ClosedResourceError as exc:
                    raise trio.ClosedResourceError(
                        "the authenticator's ZAP socket was closed under it: was its context "
                        "closed first? Leave the authenticator's block before the context's"
                    ) from exc
                # One task per request, so that an async CURVE callback does
                # not hold up other handshakes. libzmq has at most one request
                # in flight per connection, and the ROUTER envelope routes
                # each reply to the right one, so the order does not matter.
                nursery.start_soon(self._answer, frames)

    def _stop(self) -> None:
        sock = self._socket
        if sock.closed:
            return
        # Unbinding an inproc endpoint is immediate, while closing releases it
        # only once libzmq's reaper gets to the socket: unbind first, so that
        # another authenticator can bind straight away.
        with contextlib.suppress(zmq.ZMQError, trio.ClosedResourceError):
            sock.unbind(ZAP_ENDPOINT)
        sock.close(linger=0)
        logger.info("stopped serving %s", ZAP_ENDPOINT)


def _bind(ctx: Context) -> Socket:
    if not isinstance(ctx, Context):
        raise TypeError(
            f"the authenticator takes a trio_zmq.Context, not {type(ctx).__name__}; "
            "wrap a pyzmq context with trio_zmq.Context.from_context(context)"
        )
    sock = ctx.socket(zmq.ROUTER, linger=0)
    try:
        sock.bind(ZAP_ENDPOINT)
    except zmq.ZMQError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise trio.BusyResourceError(
                f"this context already has a ZAP handler bound to {ZAP_ENDPOINT} (another "
                "authenticator is running on it); leave that one's block before starting another"
            ) from exc
        raise
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_authenticator(
    ctx: Context, *, task_status: trio.TaskStatus[Authenticator] = trio.TASK_STATUS_IGNORED
) -> NoReturn:
    """Bind *ctx*'s ZAP endpoint and answer handshakes until cancelled.

    For ``auth = await nursery.start(serve_authenticator, ctx)``: the start
    returns once the endpoint is bound, with the :class:`Authenticator` to
    configure. Cancelling the task (e.g. the nursery's cancel scope) stops
    serving and unbinds, so another authenticator may start; a handshake
    being decided then is answered with status 500.

    Raises:
        TypeError: *ctx* is not a :class:`trio_zmq.Context`.
        trio.BusyResourceError: another ZAP handler is bound in *ctx*.
        trio.ClosedResourceError: *ctx* is closed, or gets closed while
            serving (close the context after stopping the authenticator).
    """
    auth = Authenticator._create(_bind(ctx))
    try:
        logger.info("serving %s", ZAP_ENDPOINT)
        task_status.started(auth)
        with unwrap_groups():
            await auth._serve()
    finally:
        auth._stop()


@contextlib.asynccontextmanager
async def open_authenticator(ctx: Context) -> AsyncIterator[Authenticator]:
    """Answer *ctx*'s ZAP requests from a task of its own while the block runs.

    Entering binds ``inproc://zeromq.zap.01`` in *ctx* (without waiting) and
    yields the :class:`Authenticator` to configure; requests are served by a
    task in a nursery this call owns. Leaving the block, normally, by an
    exception or by cancellation, stops serving and unbinds, so that a new
    authenticator can start. Errors come out unwrapped, not as an
    ExceptionGroup.

    Close the secured sockets inside the block: once it is left, a CURVE
    server of *ctx* accepts clients with any key.

    Raises:
        TypeError: *ctx* is not a :class:`trio_zmq.Context`.
        trio.BusyResourceError: another ZAP handler is bound in *ctx*.
        trio.ClosedResourceError: *ctx* is closed, or gets closed inside
            the block.
    """
    with unwrap_groups():
        async with trio.open_nursery() as nursery:
            auth: Authenticator = await nursery.start(serve_authenticator, ctx)
            try:
                yield auth
            finally:
                nursery.cancel_scope.cancel()
