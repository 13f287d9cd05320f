"""The ZAP handler: a ROUTER socket bound in a context, answering as a policy decides.

:func:`serve_authenticator` binds ``inproc://zeromq.zap.01`` and answers
each request from a task of its own; :func:`open_authenticator` runs it in
a nursery of its own. Both hand the user an :class:`Authenticator`, whose
methods configure a :class:`~trio_zmq._auth_policy.Policy`. Each decision,
with its reason, is logged on the ``trio_zmq.auth`` logger. Requests are
read and replies written by :mod:`trio_zmq._zap`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, final

import trio
import zmq

from ._auth_policy import Policy
from ._context import Context
from ._groups import unwrap_groups
from ._zap import ZAP_ENDPOINT, MalformedRequest, ZapReply, build_reply, parse_request

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Mapping

    from ._auth_policy import CredentialsProvider, CurveCallback
    from ._socket import Socket

__all__ = ["Authenticator", "Decision", "logger", "open_authenticator", "serve_authenticator"]

logger = logging.getLogger("trio_zmq.auth")


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


@final
class Authenticator:
    """The policy of a running ZAP handler; get one from :func:`open_authenticator`.

    Until a policy is configured, NULL peers are allowed (ZeroMQ's classic
    behaviour) and PLAIN, CURVE and GSSAPI peers are denied. Every change
    applies from the next handshake on; handshakes already completed stay.
    ``"*"`` as a domain covers every domain that has no entry of its own.
    """

    __slots__ = ("_policy", "_socket")

    _socket: Socket
    _policy: Policy

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "an Authenticator comes from `async with trio_zmq.auth.open_authenticator(ctx)` "
            "or `await nursery.start(trio_zmq.auth.serve_authenticator, ctx)`"
        )

    @classmethod
    def _create(cls, zap_socket: Socket) -> Authenticator:
        self = object.__new__(cls)
        self._socket = zap_socket
        self._policy = Policy()
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
        self._policy.allow(addresses)
        logger.info("allowing only peers from %s", ", ".join(addresses) or "(nothing new)")

    def deny(self, *addresses: str) -> None:
        """Turn away peers from these addresses or CIDR networks; others go on.

        Takes the same forms as :meth:`allow`.

        Raises:
            ValueError: an entry is not an address or network, or
                :meth:`allow` was used: use one list or the other.
        """
        self._policy.deny(addresses)
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
        self._policy.configure_plain(domain, passwords)
        users = len(passwords) if passwords is not None else 0
        logger.info("PLAIN for domain %r: %d users", domain, users)

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
        policy = self._policy.configure_curve(domain, location)
        logger.info("CURVE for domain %r: %s", domain, policy)

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
        policy = self._policy.configure_curve_callback(domain, credentials_provider)
        logger.info("CURVE for domain %r: %s", domain, policy)

    def configure_gssapi(self, domain: str = "*", location: str | None = None) -> None:
        """Admit GSSAPI peers of *domain*, with their principal as user id.

        The GSSAPI exchange itself (Kerberos) is checked by libzmq; unlike
        pyzmq, GSSAPI peers are denied until this is called. *location* is
        accepted for pyzmq compatibility and ignored.
        """
        self._policy.configure_gssapi(domain)
        logger.info("GSSAPI for domain %r: principals admitted", domain)

    # ------------------------------------------------------------------
    # Serving

    def _reply(self, reply: ZapReply, decision: Decision) -> None:
        try:
            # A ROUTER never waits to send: a reply to a requester that has
            # gone is dropped. So replying is synchronous, and possible even
            # while this task is being cancelled.
            self._socket.send_multipart_nowait(build_reply(reply))
        except (trio.WouldBlock, trio.ClosedResourceError, zmq.ZMQError) as exc:
            logger.warning("could not send the ZAP reply (%s): %s", exc, decision)

    def _log(self, decision: Decision, exc_info: BaseException | None = None) -> None:
        level = logging.ERROR if decision.status_code == 500 else logging.INFO
        logger.log(level, "%s", decision, extra={"zap_decision": decision}, exc_info=exc_info)

    def _answer_malformed(self, frame_count: int, malformed: MalformedRequest) -> None:
        # The frames are not logged: they may hold a password.
        if malformed.request_id is None:
            logger.warning(
                "malformed ZAP request (%d frames), cannot reply: %s", frame_count, malformed.reason
            )
            return
        decision = Decision(
            allowed=False,
            status_code=400,
            mechanism=malformed.mechanism,
            address=malformed.address,
            domain=malformed.domain,
            credential="",
            user_id="",
            reason=f"malformed request: {malformed.reason}",
        )
        logger.warning(
            "malformed ZAP request, answered 400: %s", decision, extra={"zap_decision": decision}
        )
        reply = ZapReply(malformed.envelope, malformed.request_id, 400, decision.reason)
        self._reply(reply, decision)

    async def _answer(self, frames: list[bytes]) -> None:
        """Answer one request; never raises except ``trio.Cancelled``."""
        try:
            request = parse_request(frames)
        except MalformedRequest as malformed:
            self._answer_malformed(len(frames), malformed)
            return
        allowed, status, text, user_id = False, 500, "authenticator stopped while deciding", ""
        failure: BaseException | None = None
        try:
            verdict = await self._policy.decide(request)
            allowed, status = verdict.allowed, verdict.status_code
            text, user_id = verdict.reason, verdict.user_id
        except Exception as exc:
            failure, text = exc, f"policy raised {type(exc).__name__}: {exc}"
        finally:
            # Also on cancellation: the handshake gets an answer, not a hang.
            decision = Decision(
                allowed=allowed,
                status_code=status,
                mechanism=request.mechanism,
                address=request.address,
                domain=request.domain,
                credential=request.credential,
                user_id=user_id,
                reason=text,
            )
            self._log(decision, failure)
            reply = ZapReply(request.envelope, request.request_id, status, text, user_id)
            self._reply(reply, decision)

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
