"""The ZAP wire format (RFC 27) as plain data: requests in, replies out.

libzmq asks a ZAP handler about each handshake with one multipart message
and expects one back. As they travel through the handler's ROUTER socket::

    request: [envelope..., b"", b"1.0", request_id, domain, address,
              identity, mechanism, credentials...]
    reply:   [envelope..., b"", b"1.0", request_id, status_code,
              status_text, user_id, metadata]

The envelope (the requester's routing id, and whatever routing frames a
proxy added) ends at the empty delimiter frame; a reply carries it back
unchanged so that the ROUTER routes it to the requester.

Nothing here touches a socket, a log or Trio: :func:`parse_request` and
:func:`build_reply` turn frames into values and back, and
:class:`MalformedRequest` says what is wrong with frames that break the RFC,
carrying as much of the request as could be read (the envelope and request
id above all, so that the sender still gets an error reply).

Whatever the frames hold, reading them raises nothing but
:class:`MalformedRequest`, whose reason quotes a frame only as far as
:data:`QUOTED_LENGTH`; and a reply's texts always encode, a lone surrogate
or any other character UTF-8 cannot carry written as a backslash escape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, final

from zmq.utils import z85

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "CURVE_KEY_BYTES",
    "MECHANISMS",
    "QUOTED_LENGTH",
    "STATUS_CODES",
    "VERSION",
    "ZAP_ENDPOINT",
    "MalformedRequest",
    "ZapReply",
    "ZapRequest",
    "build_reply",
    "parse_reply",
    "parse_request",
]

#: Where libzmq sends ZAP requests, in each context (RFC 27).
ZAP_ENDPOINT: Final = "inproc://zeromq.zap.01"

#: The only ZAP version there is.
VERSION: Final = b"1.0"

#: Each mechanism libzmq may ask about, and how many credential frames it sends.
MECHANISMS: Final[dict[str, int]] = {"NULL": 0, "PLAIN": 2, "CURVE": 1, "GSSAPI": 1}

#: A CURVE public key on the wire: raw bytes, not Z85.
CURVE_KEY_BYTES: Final = 32

#: The status codes RFC 27 defines: success, temporary error, failure, internal error.
STATUS_CODES: Final = frozenset({200, 300, 400, 500})

#: How much of a field a :class:`MalformedRequest`'s reason quotes: enough
#: to recognise it, never a whole frame a peer chose to make huge.
QUOTED_LENGTH: Final = 32


@final
@dataclass(frozen=True)
class ZapRequest:
    """One well-formed ZAP request, as :func:`parse_request` reads it.

    Attributes:
        envelope: the frames before the request, the empty delimiter last;
            a reply must start with them.
        request_id: the requester's id for the request, echoed in the reply.
        domain: the ZAP domain of the socket being connected to (its
            ``ZAP_DOMAIN``; empty if unset).
        address: the peer's IP address as libzmq gives it (empty for
            ``inproc`` and ``ipc``).
        identity: the routing id the connecting socket announced, if any.
        mechanism: ``"NULL"``, ``"PLAIN"``, ``"CURVE"`` or ``"GSSAPI"``.
        credentials: as many frames as the mechanism sends: none for NULL,
            user name and password for PLAIN, the 32-byte public key for
            CURVE, the principal for GSSAPI. Left out of the ``repr``: it
            may hold a password.
    """

    envelope: tuple[bytes, ...]
    request_id: bytes
    domain: str
    address: str
    identity: bytes
    mechanism: str
    credentials: tuple[bytes, ...] = field(repr=False)

    @property
    def credential(self) -> str:
        """Who the peer says it is, printable; never a password.

        The PLAIN user name, the CURVE public key in Z85, the GSSAPI
        principal; empty for NULL.
        """
        if self.mechanism == "CURVE":
            return z85.encode(self.credentials[0]).decode("ascii")
        if self.mechanism in ("PLAIN", "GSSAPI"):
            return self.credentials[0].decode("utf-8", "replace")
        return ""


@final
@dataclass(frozen=True)
class ZapReply:
    """One ZAP reply, for :func:`build_reply` (or as :func:`parse_reply` reads it).

    Attributes:
        envelope: the request's envelope, the empty delimiter last.
        request_id: the id of the request answered.
        status_code: 200 (allowed), 300 (temporary error), 400 (denied) or
            500 (internal error).
        status_text: why, in words; libzmq does not show it to the peer.
        user_id: the ``User-Id`` libzmq attaches to the peer's messages.
        metadata: ZMTP-encoded properties for the peer's messages; empty
            for none.

    Raises:
        ValueError: *status_code* is not one RFC 27 defines.
    """

    envelope: tuple[bytes, ...]
    request_id: bytes
    status_code: int
    status_text: str
    user_id: str = ""
    metadata: bytes = b""

    def __post_init__(self) -> None:
        if self.status_code not in STATUS_CODES:
            raise ValueError(f"a ZAP status code is 200, 300, 400 or 500, not {self.status_code!r}")


class MalformedRequest(Exception):
    """Frames that are not a ZAP 1.0 request, with whatever of them could be read.

    Attributes:
        reason: what is wrong, in words (a reply's status text).
        envelope: the frames up to the empty delimiter; empty if there is
            no delimiter.
        request_id: the request's id, or ``None`` if the frames stop before
            it: then no reply can be matched to the request.
        domain, address, mechanism: those fields as far as the frames
            hold them (empty otherwise), to say who sent it.
    """

    def __init__(
        self,
        reason: str,
        *,
        envelope: tuple[bytes, ...] = (),
        request_id: bytes | None = None,
        domain: str = "",
        address: str = "",
        mechanism: str = "",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope = envelope
        self.request_id = request_id
        self.domain = domain
        self.address = address
        self.mechanism = mechanism


def _quoted(field: bytes | str) -> str:
    """*field*'s ``repr``, cut after :data:`QUOTED_LENGTH` bytes or characters."""
    if len(field) <= QUOTED_LENGTH:
        return repr(field)
    return f"{field[:QUOTED_LENGTH]!r}... ({len(field)} in all)"


def _encoded(text: str) -> bytes:
    """*text* in UTF-8, whatever it holds: what UTF-8 cannot carry is escaped."""
    return text.encode("utf-8", "backslashreplace")


def _after_delimiter(frames: Sequence[bytes], start: int) -> int | None:
    """The index just past the first empty frame at or after *start*, if any."""
    for index in range(start, len(frames)):
        if frames[index] == b"":
            return index + 1
    return None


def parse_request(frames: Sequence[bytes]) -> ZapRequest:
    """Read a request as the ZAP handler's ROUTER socket receives it.

    The first frame is the requester's routing id, so the delimiter is
    looked for from the second frame on.

    Raises:
        MalformedRequest: the frames break RFC 27: no delimiter, too few
            frames, another version, an unknown mechanism, the wrong number
            of credential frames, a CURVE key that is not 32 bytes.
    """
    split = _after_delimiter(frames, 1)
    if split is None:
        raise MalformedRequest("no empty delimiter frame before the request")
    envelope, body = tuple(frames[:split]), frames[split:]

    def text(index: int) -> str:
        return body[index].decode("utf-8", "replace") if len(body) > index else ""

    def malformed(reason: str, request_id: bytes | None) -> MalformedRequest:
        return MalformedRequest(
            reason,
            envelope=envelope,
            request_id=request_id,
            domain=text(2),
            address=text(3),
            mechanism=text(5),
        )

    if len(body) < 2:
        raise malformed(f"{len(body)} frames, too few to hold a request id", None)
    version, request_id = body[0], body[1]
    if version != VERSION:
        raise malformed(
            f"unsupported ZAP version {_quoted(version)}; only 1.0 is spoken", request_id
        )
    if len(body) < 6:
        raise malformed(f"{len(body)} frames; a ZAP 1.0 request has at least 6", request_id)
    mechanism = body[5].decode("ascii", "replace")
    credentials = tuple(body[6:])
    expected = MECHANISMS.get(mechanism)
    if expected is None:
        raise malformed(f"unknown mechanism {_quoted(mechanism)}", request_id)
    if len(credentials) != expected:
        raise malformed(
            f"{mechanism} takes {expected} credential frames, not {len(credentials)}", request_id
        )
    if mechanism == "CURVE" and len(credentials[0]) != CURVE_KEY_BYTES:
        raise malformed(
            f"a CURVE key has {CURVE_KEY_BYTES} bytes, not {len(credentials[0])}", request_id
        )
    return ZapRequest(
        envelope=envelope,
        request_id=request_id,
        domain=text(2),
        address=text(3),
        identity=body[4],
        mechanism=mechanism,
        credentials=credentials,
    )


def build_reply(reply: ZapReply) -> list[bytes]:
    """The frames of *reply*, to send on the ROUTER the request came from.

    The texts go in UTF-8; a character UTF-8 cannot carry (a lone surrogate,
    as ``os.fsdecode`` makes of a file name's stray byte) goes as its
    backslash escape, so building a reply never fails on its text.
    """
    return [
        *reply.envelope,
        VERSION,
        reply.request_id,
        str(reply.status_code).encode("ascii"),
        _encoded(reply.status_text),
        _encoded(reply.user_id),
        reply.metadata,
    ]


def parse_reply(frames: Sequence[bytes]) -> ZapReply:
    """Read a reply as :func:`build_reply` makes it, or as a DEALER receives it.

    The envelope ends at the first empty frame (for a DEALER, the reply's
    first frame).

    Raises:
        ValueError: the frames are not a ZAP 1.0 reply.
    """
    split = _after_delimiter(frames, 0)
    if split is None:
        raise ValueError("no empty delimiter frame before the reply")
    envelope, body = tuple(frames[:split]), frames[split:]
    if len(body) != 6:
        raise ValueError(f"{len(body)} frames; a ZAP 1.0 reply has 6")
    version, request_id, status, status_text, user_id, metadata = body
    if version != VERSION:
        raise ValueError(f"unsupported ZAP version {version!r}; only 1.0 is spoken")
    if not status.isdigit():
        raise ValueError(f"a ZAP status code is three digits, not {status!r}")
    return ZapReply(
        envelope=envelope,
        request_id=request_id,
        status_code=int(status),
        status_text=status_text.decode("utf-8", "replace"),
        user_id=user_id.decode("utf-8", "replace"),
        metadata=metadata,
    )
