"""The ZAP handler: a ROUTER socket bound in a context, answering as a policy decides.

:func:`serve_authenticator` binds ``inproc://zeromq.zap.01`` and answers
each request from a task of its own; :func:`open_authenticator` runs it in
a nursery of its own. Both hand the user an :class:`Authenticator`, whose
methods configure a :class:`~trio_zmq._auth_policy.Policy`. Each decision,
with its reason, is logged on the ``trio_zmq.auth`` logger. Requests are
read and replies written by :mod:`trio_zmq._zap`.

Nothing a peer, a callback or a configured path holds may stop the handler,
because a stopped handler is worse than a wrong answer: libzmq then lets
CURVE clients in with any key. So every request ends in exactly one of
three ways, whatever happens on the way:

* it is answered, and the answer logged. An exception while deciding,
  describing the exception, logging or encoding the answer (a message
  with a lone surrogate, a ``__str__`` that raises, a log handler that
  fails) becomes a 500, "internal error", which denies the peer: fail
  closed. An answer that could not be logged is a 500 too, since every
  decision is logged;
* it is dropped, when its frames hold no request id to answer (RFC 27
  gives the reply no other way to find its request); the drop is logged;
* the handler stops (cancelled, or its socket closed), and a request
  being decided is answered 500 on the way out.

Decisions are bounded. At most ``max_decisions`` are in flight (a
:class:`trio.CapacityLimiter`; past it a request is answered 300,
"temporary error", at once, without a task), and each has a deadline of
``decision_timeout`` seconds, past which it is answered 300 as well. An
async CURVE callback is cancelled at the deadline. A synchronous one cannot
be: it runs in the handler's task, holding up the whole Trio run until it
returns; a decision that comes back past its deadline that way is still
answered 300, and one that held the run longer than
:data:`SLOW_CALLBACK` seconds is logged as a warning. Names (domains,
user names, keys) longer than :data:`LONGEST_NAME` characters are cut in
the log, and reasons longer than :data:`LONGEST_REASON`, in the log and
the reply alike.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NoReturn, final

import trio
import zmq

from ._auth_policy import Policy
from ._context import Context
from ._groups import unwrap_groups
from ._zap import (
    ZAP_ENDPOINT,
    MalformedRequest,
    ZapReply,
    ZapRequest,
    build_reply,
    parse_request,
)

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Mapping

    from ._auth_policy import CredentialsProvider, CurveCallback
    from ._socket import Socket

__all__ = [
    "DEFAULT_DECISION_TIMEOUT",
    "DEFAULT_MAX_DECISIONS",
    "LONGEST_NAME",
    "LONGEST_REASON",
    "SLOW_CALLBACK",
    "Authenticator",
    "Decision",
    "logger",
    "open_authenticator",
    "serve_authenticator",
]

logger = logging.getLogger("trio_zmq.auth")

#: How many handshakes an authenticator decides at once, unless told
#: otherwise (``max_decisions``). A request past it is answered at once with
#: status 300, "temporary error"; libzmq closes that connection, and the
#: client reconnects (after its ``RECONNECT_IVL``) and asks again. Decisions
#: without a callback take no time, so only callbacks that wait fill it.
DEFAULT_MAX_DECISIONS: Final = 1000

#: Seconds an authenticator gives each decision, unless told otherwise
#: (``decision_timeout``); past it the handshake is answered with status
#: 300, "temporary error". libzmq gives up on a handshake after its
#: ``HANDSHAKE_IVL`` (30 s by default), after which no answer reaches anyone.
DEFAULT_DECISION_TIMEOUT: Final = 10.0

#: Seconds a synchronous CURVE callback may hold up the Trio run before the
#: authenticator logs a warning about it (asyncio's debug mode warns at the
#: same ``slow_callback_duration``).
SLOW_CALLBACK: Final = 0.1

#: The longest name (domain, address, mechanism, credential, user id) a
#: :class:`Decision` holds; longer ones are cut, ending in "…". libzmq sends
#: none longer than 255 bytes (``ZAP_DOMAIN``, PLAIN user names and routing
#: ids are all that short), so only a hand-made request ever gets cut.
LONGEST_NAME: Final = 256

#: The longest reason a :class:`Decision` holds and a reply carries; longer
#: ones (an exception's message, most likely) are cut, ending in "…".
LONGEST_REASON: Final = 1024


def _printable(text: str, longest: int) -> str:
    """*text* with what UTF-8 cannot carry escaped, cut to *longest* characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= longest else text[: longest - 1] + "…"


def _describe(exc: BaseException) -> str:
    """``Type: message`` for an exception, whatever its ``__str__`` does."""
    try:
        message = str(exc)
    except Exception:
        message = "(its message could not be made: str() raised)"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _note(
    level: int,
    message: str,
    *args: object,
    exc_info: BaseException | None = None,
    decision: Decision | None = None,
) -> None:
    """Log a record about the handler itself; a failing log handler is ignored."""
    extra = {"zap_decision": decision} if decision is not None else None
    with contextlib.suppress(Exception):
        logger.log(level, message, *args, exc_info=exc_info, extra=extra)


@final
@dataclass(frozen=True)
class Decision:
    """One answer the authenticator gave, as attached to its log record.

    Attributes:
        allowed: whether the handshake may complete.
        status_code: the ZAP status sent: 200 allowed; 300 temporary error
            (too many decisions in flight, or none within the deadline);
            400 denied, or a malformed request; 500 internal error (a
            callback raised, the decision could not be logged, or the
            authenticator stopped while deciding).
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
        reason: why, in words; also the reply's status text.

    Every text prints and encodes: a character UTF-8 cannot carry shows as
    its backslash escape. A name longer than 256 characters is cut to 256,
    the last one "…", and a reason longer than 1024 to 1024 (libzmq sends
    no name that long; a request made by hand may).
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


def _decision(
    about: ZapRequest | MalformedRequest, status: int, reason: str, user_id: str
) -> Decision:
    """The :class:`Decision` on *about*, every text printable and bounded."""
    credential = about.credential if isinstance(about, ZapRequest) else ""
    return Decision(
        allowed=status == 200,
        status_code=status,
        mechanism=_printable(about.mechanism, LONGEST_NAME),
        address=_printable(about.address, LONGEST_NAME),
        domain=_printable(about.domain, LONGEST_NAME),
        credential=_printable(credential, LONGEST_NAME),
        user_id=_printable(user_id, LONGEST_NAME),
        reason=_printable(reason, LONGEST_REASON),
    )


@final
@dataclass(frozen=True)
class _Outcome:
    """How a decision ended: the status, why, the user id, what went wrong."""

    status: int
    reason: str
    user_id: str = ""
    failure: BaseException | None = None


def _check_bounds(max_decisions: int, decision_timeout: float) -> None:
    if isinstance(max_decisions, bool) or not isinstance(max_decisions, int):
        raise TypeError(f"max_decisions is an int, not {type(max_decisions).__name__}")
    if max_decisions < 1:
        raise ValueError(f"max_decisions is at least 1, not {max_decisions}")
    if isinstance(decision_timeout, bool) or not isinstance(decision_timeout, (int, float)):
        raise TypeError(f"decision_timeout is in seconds, not {type(decision_timeout).__name__}")
    if not decision_timeout > 0:  # NaN too
        raise ValueError(
            f"decision_timeout is a number of seconds above 0 (math.inf for none), "
            f"not {decision_timeout}"
        )


@final
class Authenticator:
    """The policy of a running ZAP handler; get one from :func:`open_authenticator`.

    Until a policy is configured, NULL peers are allowed (ZeroMQ's classic
    behaviour) and PLAIN, CURVE and GSSAPI peers are denied. Every change
    applies from the next handshake on; handshakes already completed stay.
    ``"*"`` as a domain covers every domain that has no entry of its own.

    The policy applies only to the handshakes libzmq asks about. It asks
    about every PLAIN, CURVE and GSSAPI handshake while an authenticator
    runs, and about a NULL one only if the server socket has a
    ``zap_domain``. Connections made before the authenticator started are
    not asked about again.
    """

    __slots__ = ("_decisions", "_policy", "_socket", "_timeout")

    _socket: Socket
    _policy: Policy
    _decisions: trio.CapacityLimiter
    _timeout: float

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "an Authenticator comes from `async with trio_zmq.auth.open_authenticator(ctx)` "
            "or `await nursery.start(trio_zmq.auth.serve_authenticator, ctx)`"
        )

    @classmethod
    def _create(
        cls, zap_socket: Socket, max_decisions: int, decision_timeout: float
    ) -> Authenticator:
        self = object.__new__(cls)
        self._socket = zap_socket
        self._policy = Policy()
        self._decisions = trio.CapacityLimiter(max_decisions)
        self._timeout = float(decision_timeout)
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

        Applies to the handshakes libzmq asks about: every PLAIN, CURVE and
        GSSAPI one, and a NULL one only if the server socket has a
        ``zap_domain`` (set ``zap_domain=b"global"``, say). libzmq does not
        ask about NULL peers of a socket without one, so the list does not
        apply to them: they all get in.

        Where it applies, an allowed NULL peer is admitted; PLAIN, CURVE and
        GSSAPI peers must still authenticate. Accepts ``"192.168.1.7"``,
        ``"10.0.0.0/8"``, ``"::1/128"``. An IPv4 address and its
        IPv4-mapped form (``::ffff:a.b.c.d``, as an ``ipv6=True`` socket
        reports IPv4 peers) are one peer: either form in the list matches
        the peer in either form. Peers without an IP address (``inproc``,
        ``ipc``) match no entry, so an allow list denies them.

        Raises:
            ValueError: an entry is not an address or network, or
                :meth:`deny` was used: use one list or the other.
        """
        self._policy.allow(addresses)
        logger.info("allowing only peers from %s", ", ".join(addresses) or "(nothing new)")

    def deny(self, *addresses: str) -> None:
        """Turn away peers from these addresses or CIDR networks; others go on.

        Takes the same forms as :meth:`allow`, and applies to the same
        handshakes: not to NULL peers of a socket without a ``zap_domain``,
        which libzmq lets in without asking. ``deny("::ffff:10.0.0.1")``
        turns away ``10.0.0.1`` too, and ``deny("10.0.0.1")`` the mapped
        form. Peers without an IP address (``inproc``, ``ipc``) match no
        entry, so a deny list lets them on.

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
        PLAIN peer of the domain (pyzmq ignores an empty one). Passwords are
        compared in constant time and never logged. PLAIN sends them in the
        clear: use it over ``ipc``, ``inproc`` or a network you trust, or
        use CURVE.
        """
        self._policy.configure_plain(domain, passwords)
        users = len(passwords) if passwords is not None else 0
        logger.info("PLAIN for domain %r: %d users", _printable(domain, LONGEST_NAME), users)

    def configure_curve(
        self,
        domain: str = "*",
        location: str | bytes | os.PathLike[str] | os.PathLike[bytes] = "",
    ) -> None:
        """Check CURVE peers of *domain* against a directory of public certificates.

        Args:
            domain: the ZAP domain, ``"*"`` for every domain (in pyzmq,
                ``"*"`` covers only sockets without a ``zap_domain``).
            location: a directory of certificates (the ``*.key`` files
                :func:`create_certificates` and pyzmq's
                ``create_certificates`` write; only their public keys are
                read), as a str, bytes or path object; or
                :data:`CURVE_ALLOW_ANY` to let any key in (encryption
                without client authentication), for this domain only.

        The directory is read now, without waiting, as the literal path it
        is: unlike pyzmq, which reads it as a ``glob`` pattern, ``certs[1]``
        is the directory named ``certs[1]``. Every entry whose name ends in
        ``.key`` (not starting with a dot) must be a certificate holding one
        public key of 40 Z85 characters that decode to 32 bytes: otherwise
        nothing changes and the error names the file. Call again after
        adding or removing certificates. Replaces any callback set for
        *domain*.

        libzmq asks about a CURVE handshake only while an authenticator
        runs: before it starts and after it stops, a CURVE server lets a
        client with any key in (it still encrypts). ``zap_enforce_domain=1``
        on the server changes that only together with a ``zap_domain``.

        Raises:
            OSError: *location* is not a directory that can be read, or a
                certificate cannot be read (pyzmq logs this and goes on).
            ValueError: an entry is not a file, or holds no valid public key.
        """
        policy = self._policy.configure_curve(domain, location)
        logger.info("CURVE for domain %r: %s", _printable(domain, LONGEST_NAME), policy)

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

        A coroutine function is awaited, and other handshakes are answered
        meanwhile; it is cancelled at the authenticator's
        ``decision_timeout``, and the peer answered 300. A synchronous
        callback runs in the authenticator's task, in the Trio run, not in a
        thread: until it returns, no other task of the run goes on, so keep
        it quick (a dictionary lookup), and make one that waits (a database,
        the network) a coroutine function. One that holds the run longer
        than 0.1 s is logged as a warning, and one that returns past the
        deadline is answered 300 whatever it returned.

        If it raises, whatever the exception holds, the peer is denied with
        status 500, the error is logged, and the authenticator goes on. It
        runs outside trio_zmq's KeyboardInterrupt protection: Ctrl-C can
        stop it.

        Replaces any certificate directory set for *domain*.
        """
        policy = self._policy.configure_curve_callback(domain, credentials_provider)
        logger.info("CURVE for domain %r: %s", _printable(domain, LONGEST_NAME), policy)

    def configure_gssapi(self, domain: str = "*", location: str | None = None) -> None:
        """Admit GSSAPI peers of *domain*, with their principal as user id.

        The GSSAPI exchange itself (Kerberos) is checked by libzmq; unlike
        pyzmq, GSSAPI peers are denied until this is called. *location* is
        accepted for pyzmq compatibility and ignored.
        """
        self._policy.configure_gssapi(domain)
        logger.info("GSSAPI for domain %r: principals admitted", _printable(domain, LONGEST_NAME))

    # ------------------------------------------------------------------
    # Serving

    def _reply(
        self, about: ZapRequest | MalformedRequest, decision: Decision, user_id: str
    ) -> None:
        """Send *decision*'s answer to *about*, with *user_id* if allowed; never raises."""
        assert about.request_id is not None  # _take drops the requests without one
        try:
            frames = build_reply(
                ZapReply(
                    about.envelope,
                    about.request_id,
                    decision.status_code,
                    decision.reason,
                    user_id if decision.allowed else "",
                )
            )
        except Exception as exc:  # pragma: no cover - build_reply encodes any text
            _note(logging.ERROR, "could not build the ZAP reply; answering 500", exc_info=exc)
            frames = build_reply(ZapReply(about.envelope, about.request_id, 500, "internal error"))
        try:
            # A ROUTER never waits to send: a reply to a requester that has
            # gone is dropped. So replying is synchronous, and possible even
            # while this task is being cancelled.
            self._socket.send_multipart_nowait(frames)
        except Exception as exc:
            _note(
                logging.WARNING, "could not send the ZAP reply (%s): %s", _describe(exc), decision
            )

    def _settle(self, about: ZapRequest | MalformedRequest, outcome: _Outcome) -> None:
        """Log the answer to *about*, then send it; never raises.

        An answer that cannot be logged is not given: the peer gets a 500
        instead, and the failure is logged as well as the logger can.
        """
        status = outcome.status
        try:
            decision = _decision(about, status, outcome.reason, outcome.user_id)
            if status == 500:
                level = logging.ERROR
            elif status == 300 or isinstance(about, MalformedRequest):
                level = logging.WARNING
            else:
                level = logging.INFO
            logger.log(
                level, "%s", decision, extra={"zap_decision": decision}, exc_info=outcome.failure
            )
        except Exception as exc:
            reason = f"internal error: the decision could not be logged: {_describe(exc)}"
            try:
                decision = _decision(about, 500, reason, "")
            except Exception:  # pragma: no cover - _decision takes any text
                decision = Decision(False, 500, "", "", "", "", "", "internal error")
            _note(
                logging.ERROR,
                "could not log a ZAP decision; answered instead: %s",
                decision,
                exc_info=exc,
                decision=decision,
            )
        self._reply(about, decision, outcome.user_id)

    def _take(self, frames: list[bytes], nursery: trio.Nursery) -> None:
        """Answer a request that needs no decision at once; start a task for the others.

        Never raises: a malformed request is answered 400 (or dropped, if it
        holds no request id), and a request past ``max_decisions`` 300,
        here and now, so that no flood of them makes a task each.
        """
        try:
            request = parse_request(frames)
        except MalformedRequest as malformed:
            if malformed.request_id is None:
                # The frames are not logged: they may hold a password.
                _note(
                    logging.WARNING,
                    "malformed ZAP request (%d frames), cannot reply: %s",
                    len(frames),
                    malformed.reason,
                )
            else:
                self._settle(malformed, _Outcome(400, f"malformed request: {malformed.reason}"))
            return
        except Exception as exc:  # pragma: no cover - parse_request raises nothing else
            _note(
                logging.ERROR,
                "unreadable ZAP request (%d frames), dropped",
                len(frames),
                exc_info=exc,
            )
            return
        token = object()
        try:
            self._decisions.acquire_on_behalf_of_nowait(token)
        except trio.WouldBlock:
            limit = self._decisions.total_tokens
            self._settle(
                request,
                _Outcome(300, f"temporary error: {limit} decisions in flight, the most allowed"),
            )
            return
        nursery.start_soon(self._answer, request, token)

    async def _answer(self, request: ZapRequest, token: object) -> None:
        """Decide one request and answer it; never raises except ``trio.Cancelled``."""
        outcome = _Outcome(500, "internal error: the authenticator stopped while deciding")
        try:
            outcome = await self._decide(request)
        except Exception as exc:  # pragma: no cover - _decide catches what the policy raises
            outcome = _Outcome(500, f"internal error: {_describe(exc)}", failure=exc)
        finally:
            # Also on cancellation: the handshake gets an answer, not a hang.
            try:
                self._settle(request, outcome)
            finally:
                self._decisions.release_on_behalf_of(token)

    async def _decide(self, request: ZapRequest) -> _Outcome:
        """The policy's verdict on *request*, within the deadline."""
        started = trio.current_time()
        try:
            with trio.move_on_at(started + self._timeout) as deadline:
                verdict = await self._policy.decide(request)
        except Exception as exc:
            return _Outcome(500, f"policy raised {_describe(exc)}", failure=exc)
        if deadline.cancelled_caught:
            return _Outcome(300, f"temporary error: no decision within {self._timeout:g} s")
        if verdict.blocked > SLOW_CALLBACK:
            _note(
                logging.WARNING,
                "a synchronous CURVE callback held up the whole Trio run for %.3f s "
                "(make it a coroutine function, or quicker): %s",
                verdict.blocked,
                _printable(request.credential, LONGEST_NAME),
            )
        elapsed = trio.current_time() - started
        if elapsed > self._timeout:  # a synchronous callback, which no deadline can stop
            return _Outcome(
                300,
                f"temporary error: decided after {elapsed:.3g} s, past the deadline of "
                f"{self._timeout:g} s",
            )
        return _Outcome(verdict.status_code, verdict.reason, verdict.user_id)

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
                # One task per decision, so that an async CURVE callback does
                # not hold up other handshakes. libzmq has at most one request
                # in flight per connection, and the ROUTER envelope routes
                # each reply to the right one, so the order does not matter.
                self._take(frames, nursery)

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
    ctx: Context,
    *,
    max_decisions: int = DEFAULT_MAX_DECISIONS,
    decision_timeout: float = DEFAULT_DECISION_TIMEOUT,
    task_status: trio.TaskStatus[Authenticator] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Bind *ctx*'s ZAP endpoint and answer handshakes until cancelled.

    For ``auth = await nursery.start(serve_authenticator, ctx)``: the start
    returns once the endpoint is bound, with the :class:`Authenticator` to
    configure. Cancelling the task (e.g. the nursery's cancel scope) stops
    serving and unbinds, so another authenticator may start; a handshake
    being decided then is answered with status 500. To pass the keyword
    arguments, ``nursery.start(functools.partial(serve_authenticator, ctx,
    decision_timeout=5))``.

    Args:
        ctx: the context whose handshakes to answer.
        max_decisions: how many handshakes may be decided at once; past
            that, a handshake is answered with status 300 ("temporary
            error") at once (:data:`DEFAULT_MAX_DECISIONS`, 1000).
        decision_timeout: seconds each decision may take; past them, it is
            answered with status 300 (:data:`DEFAULT_DECISION_TIMEOUT`,
            10 s; ``math.inf`` for no deadline).

    Raises:
        TypeError: *ctx* is not a :class:`trio_zmq.Context`, or a bound is
            not a number.
        ValueError: a bound is not above 0.
        trio.BusyResourceError: another ZAP handler is bound in *ctx*.
        trio.ClosedResourceError: *ctx* is closed, or gets closed while
            serving (close the context after stopping the authenticator).
    """
    _check_bounds(max_decisions, decision_timeout)
    auth = Authenticator._create(_bind(ctx), max_decisions, decision_timeout)
    try:
        logger.info("serving %s", ZAP_ENDPOINT)
        task_status.started(auth)
        with unwrap_groups():
            await auth._serve()
    finally:
        auth._stop()


@contextlib.asynccontextmanager
async def open_authenticator(
    ctx: Context,
    *,
    max_decisions: int = DEFAULT_MAX_DECISIONS,
    decision_timeout: float = DEFAULT_DECISION_TIMEOUT,
) -> AsyncIterator[Authenticator]:
    """Answer *ctx*'s ZAP requests from a task of its own while the block runs.

    Entering binds ``inproc://zeromq.zap.01`` in *ctx* (without waiting) and
    yields the :class:`Authenticator` to configure; requests are served by a
    task in a nursery this call owns. Leaving the block, normally, by an
    exception or by cancellation, stops serving and unbinds, so that a new
    authenticator can start. Errors come out unwrapped, not as an
    ExceptionGroup.

    Start it before the secured sockets bind or connect, and close them
    inside the block: libzmq asks about a handshake only while an
    authenticator runs. Before it starts and once the block is left, a
    CURVE server of *ctx* accepts clients with any key, and connections
    made then stay connected when it starts.

    Args:
        ctx: the context whose handshakes to answer.
        max_decisions: how many handshakes may be decided at once; past
            that, a handshake is answered with status 300 ("temporary
            error") at once (:data:`DEFAULT_MAX_DECISIONS`, 1000).
        decision_timeout: seconds each decision may take; past them, it is
            answered with status 300 (:data:`DEFAULT_DECISION_TIMEOUT`,
            10 s; ``math.inf`` for no deadline).

    Raises:
        TypeError: *ctx* is not a :class:`trio_zmq.Context`, or a bound is
            not a number.
        ValueError: a bound is not above 0.
        trio.BusyResourceError: another ZAP handler is bound in *ctx*.
        trio.ClosedResourceError: *ctx* is closed, or gets closed inside
            the block.
    """
    serve = functools.partial(
        serve_authenticator, ctx, max_decisions=max_decisions, decision_timeout=decision_timeout
    )
    with unwrap_groups():
        async with trio.open_nursery() as nursery:
            auth: Authenticator = await nursery.start(serve)
            try:
                yield auth
            finally:
                nursery.cancel_scope.cancel()
