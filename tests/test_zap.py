"""The ZAP wire format, without sockets (trio_zmq._zap): requests in, replies out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zmq.utils import z85

from trio_zmq._zap import (
    QUOTED_LENGTH,
    STATUS_CODES,
    MalformedRequest,
    ZapReply,
    ZapRequest,
    build_reply,
    parse_reply,
    parse_request,
)

from .auth_helpers import ROUTED, request


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


def test_a_reply_text_utf_8_cannot_carry_goes_as_its_backslash_escape() -> None:
    # A lone surrogate: what os.fsdecode makes of a file name's stray byte,
    # or what a callback's exception may say.
    reply = ZapReply(ROUTED, b"id-7", 500, "policy raised OSError: no \udcff here", "us\udc80r")
    frames = build_reply(reply)
    assert frames[5] == b"policy raised OSError: no \\udcff here"
    assert frames[6] == b"us\\udc80r"
    frames[5].decode("utf-8")  # and the text is UTF-8


def test_a_malformed_requests_reason_quotes_a_huge_frame_only_in_part() -> None:
    huge = b"M" * 8_000_000
    for body, why in [
        ((huge, b"id-7", b"", b"", b"", b"NULL"), "unsupported ZAP version"),
        (request(huge), "unknown mechanism"),
    ]:
        with pytest.raises(MalformedRequest) as info:
            parse_request([*ROUTED, *body])
        assert why in info.value.reason
        assert "(8000000 in all)" in info.value.reason
        assert len(info.value.reason) < 100 + QUOTED_LENGTH


#: Frames as a ROUTER may receive them: few, short, often empty (a
#: delimiter), sometimes what a request holds in that place.
_FRAME = st.one_of(
    st.binary(max_size=40),
    st.just(b""),
    st.sampled_from([b"1.0", b"NULL", b"PLAIN", b"CURVE", b"GSSAPI", b"127.0.0.1", b"k" * 32]),
)


@settings(max_examples=300, deadline=None, database=None)
@given(frames=st.lists(_FRAME, max_size=10))
def test_any_frames_parse_into_a_request_or_a_malformed_request_an_error_reply_is_built_from(
    frames: list[bytes],
) -> None:
    try:
        parsed = parse_request(frames)
    except MalformedRequest as malformed:
        if malformed.request_id is None:
            return  # nothing to answer to
        reply = ZapReply(malformed.envelope, malformed.request_id, 400, malformed.reason)
    else:
        assert parsed.mechanism in ("NULL", "PLAIN", "CURVE", "GSSAPI")
        parsed.credential.encode("utf-8")  # printable, whatever the frames held
        reply = ZapReply(parsed.envelope, parsed.request_id, 200, "ok", parsed.credential)
    built = build_reply(reply)
    assert tuple(built[: len(reply.envelope)]) == reply.envelope
    # The rest reads back as the requester (a DEALER: delimiter, then reply) reads it.
    as_received = parse_reply([b"", *built[len(reply.envelope) :]])
    assert as_received == ZapReply((b"",), *astuple_after_envelope(reply))
    assert reply.status_code in STATUS_CODES


def astuple_after_envelope(reply: ZapReply) -> tuple[bytes, int, str, str, bytes]:
    return reply.request_id, reply.status_code, reply.status_text, reply.user_id, reply.metadata
