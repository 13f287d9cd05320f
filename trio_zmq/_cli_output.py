"""What the ``trio-zmq`` commands print, and the errors they end with.

Messages go to standard output, one per line (:func:`print_message`); what a
command is doing goes to standard error (:func:`status`), so a script can
read one and ignore the other. A :class:`CommandError` ends the program with
one line on standard error.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from ._errors import is_malformed_endpoint

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    import zmq

__all__ = [
    "FORMATS",
    "PROG",
    "CommandError",
    "UsageError",
    "endpoint_failure",
    "escape",
    "format_message",
    "print_message",
    "status",
]

PROG = "trio-zmq"

#: The names of the ``--format`` choices, for :func:`format_message`.
FORMATS = ("text", "raw", "hex", "json")


class CommandError(Exception):
    """A failure to report in one line on standard error, with :attr:`status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CommandError):
    """A command line argparse could not refuse by itself: reported with the usage, status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 2)


def endpoint_failure(exc: zmq.ZMQError) -> CommandError:
    """*exc* from a bind or connect (which names the endpoint), as the command's failure.

    An endpoint libzmq cannot parse is a usage error (status 2); anything
    else, an address in use say, is a runtime error (status 1).
    """
    return CommandError(str(exc), 2 if is_malformed_endpoint(exc) else 1)


def status(args: argparse.Namespace, message: str) -> None:
    """Say what the command is doing, on standard error (unless --quiet)."""
    if not args.quiet:
        print(f"{PROG} {args.command}: {message}", file=sys.stderr, flush=True)


_PRINTABLE_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape(frame: bytes) -> str:
    r"""*frame* as one line of text: UTF-8 where it decodes, escapes elsewhere.

    A backslash, a control character or a byte that is not UTF-8 becomes a
    Python-style escape (``\\``, ``\t``, ``\x00``, ``\xff``), so every frame
    fits on one line and none can confuse a terminal.
    """
    out: list[str] = []
    for ch in frame.decode("utf-8", errors="surrogateescape"):
        code = ord(ch)
        if ch in _PRINTABLE_ESCAPES:
            out.append(_PRINTABLE_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def _json_frame(frame: bytes) -> str | dict[str, str]:
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": frame.hex()}


def format_message(frames: Sequence[bytes], fmt: str) -> bytes:
    """One message as one output line (without the newline).

    ``text``: frames escaped (see :func:`escape`), separated by a tab.
    ``raw``: the bytes as they are, separated by a tab.
    ``hex``: each frame in hexadecimal, separated by a space.
    ``json``: a JSON array; a frame that is UTF-8 is a string, any other is
    ``{"hex": "..."}``.
    """
    if fmt == "raw":
        return b"\t".join(frames)
    if fmt == "hex":
        line = " ".join(frame.hex() for frame in frames)
    elif fmt == "json":
        line = json.dumps([_json_frame(frame) for frame in frames], ensure_ascii=False)
    else:
        line = "\t".join(escape(frame) for frame in frames)
    return line.encode("utf-8", errors="surrogateescape")


def print_message(frames: Sequence[bytes], fmt: str) -> None:
    """Print one message on standard output, as :func:`format_message` says."""
    out = sys.stdout.buffer
    out.write(format_message(frames, fmt) + b"\n")
    out.flush()
