"""The everyday ``trio-zmq`` tools: send, pub, recv, sub, req, rep, proxy, monitor.

Each command is an ``add_*_arguments(parser)`` function beside the async
function that runs it; ``_cli.py`` puts them in its table of commands. They
use trio_zmq's public API only, and the table of socket types in
``_kinds.py`` for the types each one offers.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import trio
import zmq

import trio_zmq

from ._cli_output import (
    FORMATS,
    CommandError,
    UsageError,
    endpoint_failure,
    escape,
    print_message,
    status,
)
from ._errors import ENDPOINT_FORMS
from ._kinds import kind_name, kind_names

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._kinds import Kind

__all__ = [
    "add_monitor_arguments",
    "add_proxy_arguments",
    "add_pub_arguments",
    "add_recv_arguments",
    "add_rep_arguments",
    "add_req_arguments",
    "add_send_arguments",
    "add_sub_arguments",
    "run_monitor",
    "run_proxy",
    "run_pub",
    "run_recv",
    "run_rep",
    "run_req",
    "run_send",
]


# ----------------------------------------------------------------------
# Socket types, from the table


def _moves_freely(kind: Kind) -> bool:
    """Neither in lock step (REQ, REP) nor raw (STREAM): fit to pass messages along."""
    return not kind.lockstep and not kind.raw


SENDING_TYPES = kind_names(lambda kind: _moves_freely(kind) and kind.flow in ("out", "both"))
RECEIVING_TYPES = kind_names(lambda kind: _moves_freely(kind) and kind.flow in ("in", "both"))
PROXY_TYPES = kind_names(_moves_freely)
ALL_TYPES = kind_names(lambda kind: True)


def _socket_type(name: str) -> int:
    return int(zmq.SocketType[name])


# ----------------------------------------------------------------------
# Arguments every tool shares


def _endpoint(text: str) -> str:
    transport, sep, rest = text.partition("://")
    if not (sep and transport and rest):
        raise argparse.ArgumentTypeError(f"{text!r} is not an endpoint; {ENDPOINT_FORMS}")
    return text


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="say nothing on stderr but errors"
    )
    parser.add_argument(
        "--linger",
        type=int,
        default=trio_zmq.DEFAULT_LINGER,
        metavar="MS",
        help="how long to keep delivering queued messages at exit (default: %(default)s; "
        "-1: until delivered)",
    )


def _add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    """--bind and --connect; :func:`_attach` uses them, and requires one."""
    group = parser.add_argument_group("endpoints (repeat either; at least one)")
    group.add_argument(
        "--bind", action="append", default=[], type=_endpoint, metavar="ADDR",
        help="listen on ADDR (a port of '*' picks a free one, printed on stderr)",
    )  # fmt: skip
    group.add_argument(
        "--connect", action="append", default=[], type=_endpoint, metavar="ADDR",
        help="connect to ADDR",
    )  # fmt: skip


def _add_message_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """MESSAGE... and --multipart; :func:`_for_each_message` reads them."""
    parser.add_argument(
        "message",
        nargs="*",
        metavar="MESSAGE",
        help=f"{what}; without any, each line of standard input is one",
    )
    parser.add_argument(
        "--multipart",
        action="store_true",
        help="send all the MESSAGEs (or all the lines) as the frames of one message",
    )


def _add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text: UTF-8 with escapes, frames separated by a tab (default); raw: bytes as "
        "they are; hex; json: an array per message",
    )


def _add_count_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--count", type=_count, metavar="N", help=f"stop after {what} (default: run until Ctrl-C)"
    )


# ----------------------------------------------------------------------
# Sockets


def _bind(args: argparse.Namespace, sock: trio_zmq.Socket, addr: str, label: str = "") -> str:
    try:
        endpoint = sock.bind(addr)
    except zmq.ZMQError as exc:
        raise endpoint_failure(exc) from None
    status(args, f"{label}bound to {endpoint}")
    return endpoint


def _connect(args: argparse.Namespace, sock: trio_zmq.Socket, addr: str, label: str = "") -> None:
    try:
        sock.connect(addr)
    except zmq.ZMQError as exc:
        raise endpoint_failure(exc) from None
    status(args, f"{label}connecting to {addr}")


def _attach(args: argparse.Namespace, sock: trio_zmq.Socket) -> None:
    """Bind and connect *sock* as the --bind and --connect options say."""
    if not (args.bind or args.connect):
        raise UsageError("give at least one --bind or --connect endpoint")
    for addr in args.bind:
        _bind(args, sock, addr)
    for addr in args.connect:
        _connect(args, sock, addr)


async def _for_each_message(
    args: argparse.Namespace, handle: Callable[[list[bytes]], Awaitable[None]]
) -> None:
    """Call *handle* with each message given on the command line or on stdin.

    Each MESSAGE argument is a one-frame message, or with --multipart they
    are the frames of one message. Without arguments, each line of standard
    input is a message (with --multipart, all the lines form one message).
    """
    if args.message:
        parts = [os.fsencode(arg) for arg in args.message]
        if args.multipart:
            await handle(parts)
        else:
            for part in parts:
                await handle([part])
        return
    if sys.stdin is None:
        raise CommandError("no MESSAGE given and no standard input to read")
    if sys.stdin.isatty():
        status(args, "reading messages from standard input, one a line (Ctrl-D ends)")
    fd = sys.stdin.fileno()
    lines: list[bytes] = []
    pending = b""
    while True:
        # In a thread, because a terminal or a pipe cannot portably be read
        # without blocking; abandoned on cancel, so Ctrl-C is prompt. A raw
        # os.read, because a thread left inside sys.stdin's buffered reader
        # holds its lock and makes the interpreter abort at exit.
        chunk = await trio.to_thread.run_sync(os.read, fd, 65536, abandon_on_cancel=True)
        if chunk:
            *complete, pending = (pending + chunk).split(b"\n")
        else:
            complete, pending = ([pending] if pending else []), b""
        for line in complete:
            line = line.removesuffix(b"\r")
            if args.multipart:
                lines.append(line)
            else:
                await handle([line])
        if not chunk:
            break
    if args.multipart and lines:
        await handle(lines)


async def _send_each_message(args: argparse.Namespace, sock: trio_zmq.Socket) -> None:
    async def send(parts: list[bytes]) -> None:
        await sock.send_multipart(parts)

    await _for_each_message(args, send)


# ----------------------------------------------------------------------
# send, pub


def add_send_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    _add_endpoint_options(parser)
    parser.add_argument("--type", choices=SENDING_TYPES, default="PUSH", help="default: PUSH")
    _add_message_arguments(parser, "a message to send")


async def run_send(args: argparse.Namespace) -> None:
    async with (
        trio_zmq.Context(linger=args.linger) as ctx,
        ctx.socket(_socket_type(args.type)) as sock,
    ):
        _attach(args, sock)
        await _send_each_message(args, sock)


def add_pub_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    _add_endpoint_options(parser)
    parser.add_argument(
        "--wait-subscribers", type=_count, default=0, metavar="N",
        help="publish only once N subscriptions arrived (ZeroMQ drops messages published "
        "before a subscriber is connected)",
    )  # fmt: skip
    _add_message_arguments(parser, "a message to publish")


async def run_pub(args: argparse.Namespace) -> None:
    wanted: int = args.wait_subscribers
    # An XPUB socket publishes as PUB does, and receives the subscriptions.
    sock_type = zmq.XPUB if wanted else zmq.PUB
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(sock_type) as sock:
        if wanted:
            sock.xpub_verbose = 1  # one subscription message per subscriber, even for one topic
        _attach(args, sock)
        if wanted:
            await _wait_for_subscribers(args, sock, wanted)
        await _send_each_message(args, sock)


async def _wait_for_subscribers(
    args: argparse.Namespace, sock: trio_zmq.Socket, wanted: int
) -> None:
    """Wait for *wanted* subscriptions to reach an XPUB socket."""
    status(args, f"waiting for {wanted} subscriber(s)")
    seen = 0
    while seen < wanted:
        message = await sock.recv()
        if message[:1] == b"\x01":
            seen += 1
            status(args, f"subscriber {seen} wants topic {escape(message[1:])!r}")


# ----------------------------------------------------------------------
# recv, sub


def add_recv_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    _add_endpoint_options(parser)
    parser.add_argument("--type", choices=RECEIVING_TYPES, default="PULL", help="default: PULL")
    parser.add_argument(
        "--topic", action="append", default=[], help="with --type SUB or XSUB: a topic to "
        "receive (repeat for more; default: all)",
    )  # fmt: skip
    _add_count_option(parser, "N messages")
    _add_format_option(parser)


def add_sub_arguments(parser: argparse.ArgumentParser) -> None:
    """``sub`` is ``recv --type SUB``."""
    _add_common_options(parser)
    _add_endpoint_options(parser)
    parser.add_argument(
        "--topic", action="append", default=[], help="receive messages starting with TOPIC "
        "(repeat for more; default: all)",
    )  # fmt: skip
    _add_count_option(parser, "N messages")
    _add_format_option(parser)
    parser.set_defaults(type="SUB")


async def run_recv(args: argparse.Namespace) -> None:
    sock_type = _socket_type(args.type)
    topics = [os.fsencode(topic) for topic in args.topic or [""]]
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(sock_type) as sock:
        if sock_type == zmq.SUB:
            for topic in topics:
                sock.subscribe(topic)
        _attach(args, sock)
        if sock_type == zmq.XSUB:
            for topic in topics:
                await sock.send(b"\x01" + topic)
        received = 0
        while args.count is None or received < args.count:
            print_message(await sock.recv_multipart(), args.format)
            received += 1


# ----------------------------------------------------------------------
# req, rep


def add_req_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    _add_endpoint_options(parser)
    parser.add_argument(
        "--timeout", type=_seconds, default=float("inf"), metavar="SECONDS",
        help="fail when a reply takes longer (default: wait forever)",
    )  # fmt: skip
    _add_message_arguments(parser, "a request")
    _add_format_option(parser)


async def run_req(args: argparse.Namespace) -> None:
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(zmq.REQ) as sock:
        _attach(args, sock)

        async def ask(parts: list[bytes]) -> None:
            await sock.send_multipart(parts)
            with trio.move_on_after(args.timeout):
                print_message(await sock.recv_multipart(), args.format)
                return
            raise CommandError(f"no reply within {args.timeout:g} s")

        await _for_each_message(args, ask)


def add_rep_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    _add_endpoint_options(parser)
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument("--echo", action="store_true", help="reply with the request itself")
    answer.add_argument(
        "--reply", default="", metavar="TEXT", help="reply with TEXT (default: an empty frame)"
    )
    _add_count_option(parser, "N requests")
    _add_format_option(parser)


async def run_rep(args: argparse.Namespace) -> None:
    reply = None if args.echo else [os.fsencode(args.reply)]
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(zmq.REP) as sock:
        _attach(args, sock)
        answered = 0
        while args.count is None or answered < args.count:
            request = await sock.recv_multipart()
            print_message(request, args.format)
            await sock.send_multipart(request if reply is None else reply)
            answered += 1


# ----------------------------------------------------------------------
# proxy


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    parser.add_argument("front", type=_endpoint, metavar="FRONT", help="the frontend's endpoint")
    parser.add_argument("back", type=_endpoint, metavar="BACK", help="the backend's endpoint")
    parser.add_argument(
        "--front-type", choices=PROXY_TYPES, default="ROUTER", help="default: ROUTER"
    )
    parser.add_argument(
        "--back-type", choices=PROXY_TYPES, default="DEALER", help="default: DEALER"
    )
    parser.add_argument(
        "--front-connect", action="store_true", help="connect FRONT (default: bind)"
    )
    parser.add_argument("--back-connect", action="store_true", help="connect BACK (default: bind)")


async def run_proxy(args: argparse.Namespace) -> None:
    async with (
        trio_zmq.Context(linger=args.linger) as ctx,
        ctx.socket(_socket_type(args.front_type)) as front,
        ctx.socket(_socket_type(args.back_type)) as back,
        trio.open_nursery() as nursery,
    ):
        for sock, addr, connect, side in (
            (front, args.front, args.front_connect, "frontend"),
            (back, args.back, args.back_connect, "backend"),
        ):
            if sock.socket_type == zmq.SUB:
                sock.subscribe(b"")
            label = f"{side} ({kind_name(sock.socket_type)}) "
            if connect:
                _connect(args, sock, addr, label)
            else:
                _bind(args, sock, addr, label)
        await nursery.start(trio_zmq.proxy, front, back)
        status(args, "forwarding; Ctrl-C stops")


# ----------------------------------------------------------------------
# monitor


def add_monitor_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_options(parser)
    parser.add_argument("addr", type=_endpoint, metavar="ADDR")
    parser.add_argument("--type", choices=ALL_TYPES, default="DEALER", help="default: DEALER")
    parser.add_argument(
        "--listen", action="store_true", help="bind to ADDR instead, and watch peers connect"
    )
    _add_count_option(parser, "N events")
    parser.add_argument(
        "--until",
        choices=[event.name for event in zmq.Event if event.name],
        metavar="EVENT",
        help="stop after the first EVENT (e.g. HANDSHAKE_SUCCEEDED, DISCONNECTED)",
    )


async def run_monitor(args: argparse.Namespace) -> None:
    async with (
        trio_zmq.Context(linger=args.linger) as ctx,
        ctx.socket(_socket_type(args.type)) as sock,
        trio_zmq.open_monitor(sock) as events,
    ):
        try:
            if args.listen:
                _bind(args, sock, args.addr)
            else:
                _connect(args, sock, args.addr)
            seen = 0
            async for event in events:
                line = f"{event.event.name:<22} {event.endpoint}  value={event.value}"
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
                seen += 1
                if event.event.name == args.until:
                    break
                if args.count is not None and seen >= args.count:
                    break
        finally:
            # Close the watched socket while the monitor still reads: libzmq
            # then queues its last event, instead of blocking to deliver it
            # when the monitor is switched off with nobody reading.
            sock.close()
