"""The ``trio-zmq`` command line (also ``python -m trio_zmq``).

Every subcommand is an async function run by ``trio.run``. Messages go to
standard output, one per line; what the command is doing (endpoints bound,
connections being made) goes to standard error, so a script can read one and
ignore the other. Errors a user can cause (a bad endpoint, an address in use,
a missing option) end the program with one line on standard error and a
non-zero status: 2 for usage errors, as argparse does, 1 for the rest.
Ctrl-C ends it with status 130 and no traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import trio
import zmq

import trio_zmq

from . import _bench
from ._ipc import ipc_space

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Sequence

__all__ = ["main"]

PROG = "trio-zmq"

#: The exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130

_FORMATS = ("text", "raw", "hex", "json")

_SENDING_TYPES = ("PUSH", "PUB", "XPUB", "PAIR", "DEALER", "ROUTER")
_RECEIVING_TYPES = ("PULL", "SUB", "XSUB", "PAIR", "DEALER", "ROUTER")
_PROXY_TYPES = ("ROUTER", "DEALER", "XSUB", "XPUB", "SUB", "PUB", "PULL", "PUSH", "PAIR")
_ALL_TYPES = tuple(
    name for name in ("REQ", "REP", *_PROXY_TYPES, "STREAM") if hasattr(zmq.SocketType, name)
)

# libzmq errors that mean the endpoint itself is wrong: a usage error.
_BAD_ENDPOINT_ERRNOS = frozenset(
    {errno.EINVAL, errno.ENODEV, int(zmq.EPROTONOSUPPORT), int(zmq.ENOCOMPATPROTO)}
)


class CommandError(Exception):
    """A failure to report in one line on standard error, with :attr:`status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------
# Output


def _status(args: argparse.Namespace, message: str) -> None:
    """Say what the command is doing, on standard error (unless --quiet)."""
    if not args.quiet:
        print(f"{PROG} {args.command}: {message}", file=sys.stderr, flush=True)


_PRINTABLE_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(frame: bytes) -> str:
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

    ``text``: frames escaped (see :func:`_escape`), separated by a tab.
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
        line = "\t".join(_escape(frame) for frame in frames)
    return line.encode("utf-8", errors="surrogateescape")


def _emit(frames: Sequence[bytes], fmt: str) -> None:
    out = sys.stdout.buffer
    out.write(format_message(frames, fmt) + b"\n")
    out.flush()


# ----------------------------------------------------------------------
# Sockets


def _socket_type(name: str) -> int:
    return int(zmq.SocketType[name])


def _endpoint_failure(exc: zmq.ZMQError) -> CommandError:
    status = 2 if exc.errno in _BAD_ENDPOINT_ERRNOS else 1
    return CommandError(str(exc), status)


def _bind(args: argparse.Namespace, sock: trio_zmq.Socket, addr: str, label: str = "") -> str:
    try:
        endpoint = sock.bind(addr)
    except zmq.ZMQError as exc:
        raise _endpoint_failure(exc) from None
    _status(args, f"{label}bound to {endpoint}")
    return endpoint


def _connect(args: argparse.Namespace, sock: trio_zmq.Socket, addr: str, label: str = "") -> None:
    try:
        sock.connect(addr)
    except zmq.ZMQError as exc:
        raise _endpoint_failure(exc) from None
    _status(args, f"{label}connecting to {addr}")


def _attach(args: argparse.Namespace, sock: trio_zmq.Socket) -> None:
    """Bind and connect *sock* as the --bind and --connect options say."""
    for addr in args.bind:
        _bind(args, sock, addr)
    for addr in args.connect:
        _connect(args, sock, addr)


def _subscribe(sock: trio_zmq.Socket, topics: Sequence[str]) -> None:
    for topic in topics or [""]:
        sock.subscribe(os.fsencode(topic))


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
        _status(args, "reading messages from standard input, one a line (Ctrl-D ends)")
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


# ----------------------------------------------------------------------
# The everyday tools


async def _run_send(args: argparse.Namespace) -> None:
    wanted = getattr(args, "wait_subscribers", 0)
    # An XPUB socket publishes as PUB does, and receives the subscriptions.
    sock_type = zmq.XPUB if wanted else _socket_type(args.type)
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(sock_type) as sock:
        if sock_type == zmq.XPUB:
            sock.xpub_verbose = 1  # one subscription message per subscriber, even for one topic
        _attach(args, sock)
        if wanted:
            await _wait_for_subscribers(args, sock, wanted)

        async def send(parts: list[bytes]) -> None:
            await sock.send_multipart(parts)

        await _for_each_message(args, send)


async def _wait_for_subscribers(
    args: argparse.Namespace, sock: trio_zmq.Socket, wanted: int
) -> None:
    """Wait for *wanted* subscriptions to reach an XPUB socket."""
    _status(args, f"waiting for {wanted} subscriber(s)")
    seen = 0
    while seen < wanted:
        message = await sock.recv()
        if message[:1] == b"\x01":
            seen += 1
            _status(args, f"subscriber {seen} wants topic {_escape(message[1:])!r}")


async def _run_recv(args: argparse.Namespace) -> None:
    sock_type = _socket_type(args.type)
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(sock_type) as sock:
        if sock_type == zmq.SUB:
            _subscribe(sock, args.topic)
        _attach(args, sock)
        if sock_type == zmq.XSUB:
            for topic in args.topic or [""]:
                await sock.send(b"\x01" + os.fsencode(topic))
        received = 0
        while args.count is None or received < args.count:
            _emit(await sock.recv_multipart(), args.format)
            received += 1


async def _run_req(args: argparse.Namespace) -> None:
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(zmq.REQ) as sock:
        _attach(args, sock)

        async def ask(parts: list[bytes]) -> None:
            await sock.send_multipart(parts)
            with trio.move_on_after(args.timeout):
                _emit(await sock.recv_multipart(), args.format)
                return
            raise CommandError(f"no reply within {args.timeout:g} s")

        await _for_each_message(args, ask)


async def _run_rep(args: argparse.Namespace) -> None:
    reply = None if args.echo else [os.fsencode(args.reply)]
    async with trio_zmq.Context(linger=args.linger) as ctx, ctx.socket(zmq.REP) as sock:
        _attach(args, sock)
        answered = 0
        while args.count is None or answered < args.count:
            request = await sock.recv_multipart()
            _emit(request, args.format)
            await sock.send_multipart(request if reply is None else reply)
            answered += 1


async def _run_proxy(args: argparse.Namespace) -> None:
    front_type = _socket_type(args.front_type)
    back_type = _socket_type(args.back_type)
    async with (
        trio_zmq.Context(linger=args.linger) as ctx,
        ctx.socket(front_type) as front,
        ctx.socket(back_type) as back,
        trio.open_nursery() as nursery,
    ):
        for sock, addr, connect, side in (
            (front, args.front, args.front_connect, "frontend"),
            (back, args.back, args.back_connect, "backend"),
        ):
            if sock.socket_type == zmq.SUB:
                sock.subscribe(b"")
            label = f"{side} ({zmq.SocketType(sock.socket_type).name}) "
            if connect:
                _connect(args, sock, addr, label)
            else:
                _bind(args, sock, addr, label)
        await nursery.start(trio_zmq.proxy, front, back)
        _status(args, "forwarding; Ctrl-C stops")


async def _run_monitor(args: argparse.Namespace) -> None:
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


# ----------------------------------------------------------------------
# The demo


def _say(text: str = "") -> None:
    print(text, flush=True)


async def _run_demo(args: argparse.Namespace) -> None:
    _say("trio-zmq demo: four ZeroMQ patterns, each played by tasks of one Trio program.")
    with ipc_space("demo") as ipc:
        async with trio_zmq.Context(linger=0) as ctx:
            await _demo_req_rep(ctx, "inproc://demo-greetings")
            await _demo_pub_sub(ctx, ipc("weather"))
            await _demo_fan_out(ctx, "inproc://demo-tasks", "inproc://demo-results")
            await _demo_broker(ctx, ipc("broker"), "inproc://demo-workers")
    _say()
    _say("Done. Every socket was closed and the context terminated on the way out.")
    _say("Next, in two shells:")
    _say("  trio-zmq recv --bind tcp://127.0.0.1:5555")
    _say("  trio-zmq send --connect tcp://127.0.0.1:5555 hello world")


def _heading(number: int, title: str, *endpoints: str) -> None:
    _say()
    _say(f"{number}. {title}")
    _say(f"   over {' and '.join(endpoints)}")


async def _demo_req_rep(ctx: trio_zmq.Context, endpoint: str) -> None:
    _heading(1, "REQ/REP: a client asks, a server answers each request in turn", endpoint)

    async def server(sock: trio_zmq.Socket) -> None:
        async for (request,) in sock:
            _say(f"   server  received {request.decode()!r}, answers {request.upper().decode()!r}")
            await sock.send(request.upper())

    async with (
        ctx.socket(zmq.REP) as rep,
        ctx.socket(zmq.REQ) as req,
        trio.open_nursery() as nursery,
    ):
        rep.bind(endpoint)
        req.connect(endpoint)
        nursery.start_soon(server, rep)
        for word in ("hello", "bonjour", "hola"):
            _say(f"   client  sends    {word!r}")
            await req.send_string(word)
            _say(f"   client  received {await req.recv_string()!r}")
        nursery.cancel_scope.cancel()


async def _demo_pub_sub(ctx: trio_zmq.Context, endpoint: str) -> None:
    _heading(2, "PUB/SUB: a publisher broadcasts, a subscriber filters by topic", endpoint)
    updates = [
        (b"weather.paris", b"12 C, rain"),
        (b"sport.chess", b"1. e4 e5"),
        (b"weather.oslo", b"-3 C, snow"),
        (b"sport.tennis", b"15-0"),
        (b"weather.lima", b"19 C, cloudy"),
    ]
    wanted = [update for update in updates if update[0].startswith(b"weather.")]
    async with ctx.socket(zmq.XPUB) as pub, ctx.socket(zmq.SUB) as sub:
        pub.bind(endpoint)
        sub.subscribe(b"weather.")
        sub.connect(endpoint)
        # An XPUB socket receives the subscriptions: waiting for one means no
        # update is published before the subscriber can get it.
        subscription = await pub.recv()
        _say(f"   publisher sees a subscription to {subscription[1:].decode()!r}")
        for topic, text in updates:
            _say(f"   publisher sends  {topic.decode()}: {text.decode()}")
            await pub.send_multipart([topic, text])
        for _ in wanted:
            topic, text = await sub.recv_multipart()
            _say(f"   subscriber got   {topic.decode()}: {text.decode()}")
        _say("   (the sport updates never left the publisher: nobody subscribed to them)")


async def _demo_fan_out(ctx: trio_zmq.Context, tasks: str, results: str) -> None:
    _heading(
        3, "PUSH/PULL: a ventilator fans work out to three workers, a sink collects", tasks, results
    )

    async def worker(number: int, *, task_status: trio.TaskStatus[None]) -> None:
        async with ctx.socket(zmq.PULL) as inbox, ctx.socket(zmq.PUSH) as outbox:
            inbox.connect(tasks)
            outbox.connect(results)
            task_status.started()
            async for (job,) in inbox:
                n = int(job)
                await outbox.send_string(f"worker {number} squared {n}: {n * n}")

    async with (
        ctx.socket(zmq.PUSH) as ventilator,
        ctx.socket(zmq.PULL) as sink,
        trio.open_nursery() as nursery,
    ):
        ventilator.bind(tasks)
        sink.bind(results)
        for number in range(3):
            await nursery.start(worker, number)
        jobs = range(1, 7)
        _say(f"   ventilator sends {len(jobs)} jobs, round robin over the workers")
        for n in jobs:
            await ventilator.send_string(str(n))
        for _ in jobs:
            _say(f"   sink got  {await sink.recv_string()}")
        nursery.cancel_scope.cancel()


async def _demo_broker(ctx: trio_zmq.Context, front: str, back: str) -> None:
    _heading(4, "ROUTER/DEALER broker: clients and workers meet at a proxy task", front, back)

    async def worker(number: int, *, task_status: trio.TaskStatus[None]) -> None:
        async with ctx.socket(zmq.REP) as sock:
            sock.connect(back)
            task_status.started()
            async for (request,) in sock:
                await sock.send(request + f", done by worker {number}".encode())

    async def client(name: str) -> None:
        async with ctx.socket(zmq.REQ) as sock:
            sock.connect(front)
            for n in range(2):
                await sock.send_string(f"{name} job {n}")
                _say(f"   {name:<5} got {await sock.recv_string()!r}")

    async with (
        ctx.socket(zmq.ROUTER) as frontend,
        ctx.socket(zmq.DEALER) as backend,
        trio.open_nursery() as nursery,
    ):
        frontend.bind(front)
        backend.bind(back)
        await nursery.start(trio_zmq.proxy, frontend, backend)
        _say("   proxy started as a supervised task: await nursery.start(trio_zmq.proxy, ...)")
        for number in range(2):
            await nursery.start(worker, number)
        async with trio.open_nursery() as clients:
            for name in ("alice", "bob"):
                clients.start_soon(client, name)
        nursery.cancel_scope.cancel()
        _say("   proxy cancelled with its nursery; the sockets stay open, the caller's to close")


# ----------------------------------------------------------------------
# The parser


def _endpoint(text: str) -> str:
    transport, sep, rest = text.partition("://")
    if not (sep and transport and rest):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an endpoint; endpoints look like 'tcp://127.0.0.1:5555', "
            "'tcp://*:*', 'ipc:///tmp/name' or 'inproc://name'"
        )
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


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="say nothing on stderr but errors"
    )
    common.add_argument(
        "--linger",
        type=int,
        default=trio_zmq.DEFAULT_LINGER,
        metavar="MS",
        help="how long to keep delivering queued messages at exit (default: %(default)s; "
        "-1: until delivered)",
    )
    return common


def _endpoint_options() -> argparse.ArgumentParser:
    endpoints = argparse.ArgumentParser(add_help=False)
    group = endpoints.add_argument_group("endpoints (repeat either; at least one)")
    group.add_argument(
        "--bind", action="append", default=[], type=_endpoint, metavar="ADDR",
        help="listen on ADDR (a port of '*' picks a free one, printed on stderr)",
    )  # fmt: skip
    group.add_argument(
        "--connect", action="append", default=[], type=_endpoint, metavar="ADDR",
        help="connect to ADDR",
    )  # fmt: skip
    return endpoints


def _message_arguments(parser: argparse.ArgumentParser, what: str) -> None:
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


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=_FORMATS,
        default="text",
        help="text: UTF-8 with escapes, frames separated by a tab (default); raw: bytes as "
        "they are; hex; json: an array per message",
    )


def _count_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--count", type=_count, metavar="N", help=f"stop after {what} (default: run until Ctrl-C)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``trio-zmq`` argument parser, with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ZeroMQ from the shell, on Trio: try the patterns, poke a running system.",
        epilog=f"Start with: {PROG} demo.  Help on a command: {PROG} COMMAND --help",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {trio_zmq.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_options()
    endpoints = _endpoint_options()
    raw = argparse.RawDescriptionHelpFormatter

    def add(name: str, summary: str, example: str, *parents: argparse.ArgumentParser) -> Any:
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog="example:\n" + example,
            formatter_class=raw,
            parents=list(parents),
        )
        sub.set_defaults(parser=sub)
        return sub

    sub = add(
        "demo",
        "a tour of REQ/REP, PUB/SUB, PUSH/PULL and a broker, over inproc and ipc",
        f"  {PROG} demo",
    )
    sub.set_defaults(run=_run_demo, quiet=True, needs_endpoints=False)

    sub = add(
        "send",
        "send messages (each MESSAGE, or each line of stdin)",
        f"  {PROG} send --connect tcp://127.0.0.1:5555 hello world\n"
        f"  seq 3 | {PROG} send --connect tcp://127.0.0.1:5555 --type DEALER",
        common,
        endpoints,
    )
    sub.add_argument("--type", choices=_SENDING_TYPES, default="PUSH", help="default: PUSH")
    _message_arguments(sub, "a message to send")
    sub.set_defaults(run=_run_send)

    sub = add(
        "recv",
        "print each message received, one a line",
        f"  {PROG} recv --bind tcp://127.0.0.1:5555 --count 2 --format json",
        common,
        endpoints,
    )
    sub.add_argument("--type", choices=_RECEIVING_TYPES, default="PULL", help="default: PULL")
    sub.add_argument(
        "--topic", action="append", default=[], help="with --type SUB or XSUB: a topic to "
        "receive (repeat for more; default: all)",
    )  # fmt: skip
    _count_option(sub, "N messages")
    _format_option(sub)
    sub.set_defaults(run=_run_recv)

    sub = add(
        "pub",
        "publish messages (each MESSAGE, or each line of stdin) on a PUB socket",
        f"  {PROG} pub --bind tcp://127.0.0.1:5556 --wait-subscribers 1 'weather.paris 12 C'",
        common,
        endpoints,
    )
    sub.add_argument(
        "--wait-subscribers", type=_count, default=0, metavar="N",
        help="publish only once N subscriptions arrived (ZeroMQ drops messages published "
        "before a subscriber is connected)",
    )  # fmt: skip
    _message_arguments(sub, "a message to publish")
    sub.set_defaults(run=_run_send, type="PUB")

    sub = add(
        "sub",
        "print the messages published on the topics subscribed to",
        f"  {PROG} sub --connect tcp://127.0.0.1:5556 --topic weather.",
        common,
        endpoints,
    )
    sub.add_argument(
        "--topic", action="append", default=[], help="receive messages starting with TOPIC "
        "(repeat for more; default: all)",
    )  # fmt: skip
    _count_option(sub, "N messages")
    _format_option(sub)
    sub.set_defaults(run=_run_recv, type="SUB")

    sub = add(
        "req",
        "send requests (each MESSAGE, or each line of stdin) and print each reply",
        f"  {PROG} req --connect tcp://127.0.0.1:5557 --timeout 5 ping",
        common,
        endpoints,
    )
    sub.add_argument(
        "--timeout", type=_seconds, default=float("inf"), metavar="SECONDS",
        help="fail when a reply takes longer (default: wait forever)",
    )  # fmt: skip
    _message_arguments(sub, "a request")
    _format_option(sub)
    sub.set_defaults(run=_run_req)

    sub = add(
        "rep",
        "answer requests, printing each one",
        f"  {PROG} rep --bind tcp://127.0.0.1:5557 --echo",
        common,
        endpoints,
    )
    answer = sub.add_mutually_exclusive_group()
    answer.add_argument("--echo", action="store_true", help="reply with the request itself")
    answer.add_argument(
        "--reply", default="", metavar="TEXT", help="reply with TEXT (default: an empty frame)"
    )
    _count_option(sub, "N requests")
    _format_option(sub)
    sub.set_defaults(run=_run_rep)

    sub = add(
        "proxy",
        "forward messages both ways between a frontend and a backend socket",
        f"  {PROG} proxy tcp://*:5559 tcp://*:5560                "
        "# ROUTER/DEALER broker\n"
        f"  {PROG} proxy --front-type XSUB --back-type XPUB --front-connect "
        "tcp://127.0.0.1:5556 tcp://*:5561",
        common,
    )
    sub.add_argument("front", type=_endpoint, metavar="FRONT", help="the frontend's endpoint")
    sub.add_argument("back", type=_endpoint, metavar="BACK", help="the backend's endpoint")
    sub.add_argument("--front-type", choices=_PROXY_TYPES, default="ROUTER", help="default: ROUTER")
    sub.add_argument("--back-type", choices=_PROXY_TYPES, default="DEALER", help="default: DEALER")
    sub.add_argument("--front-connect", action="store_true", help="connect FRONT (default: bind)")
    sub.add_argument("--back-connect", action="store_true", help="connect BACK (default: bind)")
    sub.set_defaults(run=_run_proxy, needs_endpoints=False)

    sub = add(
        "monitor",
        "print the connection events of a socket connecting to ADDR",
        f"  {PROG} monitor tcp://127.0.0.1:5555 --until HANDSHAKE_SUCCEEDED\n"
        f"  {PROG} monitor --listen tcp://127.0.0.1:5555 --type ROUTER",
        common,
    )
    sub.add_argument("addr", type=_endpoint, metavar="ADDR")
    sub.add_argument("--type", choices=_ALL_TYPES, default="DEALER", help="default: DEALER")
    sub.add_argument(
        "--listen", action="store_true", help="bind to ADDR instead, and watch peers connect"
    )
    _count_option(sub, "N events")
    sub.add_argument(
        "--until",
        choices=[event.name for event in zmq.Event if event.name],
        metavar="EVENT",
        help="stop after the first EVENT (e.g. HANDSHAKE_SUCCEEDED, DISCONNECTED)",
    )
    sub.set_defaults(run=_run_monitor, needs_endpoints=False)

    sub = add(
        "bench",
        "measure trio_zmq against blocking pyzmq and zmq.asyncio, side by side",
        f"  {PROG} bench --quick                 # under a minute\n"
        f"  {PROG} bench --only tcp_64 --rounds 9 --json tcp.json",
    )
    _bench.add_arguments(sub)
    sub.set_defaults(run_sync=_bench.run_from_arguments, needs_endpoints=False)

    return parser


# ----------------------------------------------------------------------
# Running a command


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _fail(args: argparse.Namespace, message: str, status: int) -> int:
    print(f"{PROG} {args.command}: error: {message}", file=sys.stderr, flush=True)
    return status


def _outcome(args: argparse.Namespace, error: BaseException) -> int:
    """The exit status for *error*; says why on stderr; re-raises a bug."""
    leaves = list(_leaves(error))
    if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
        return INTERRUPTED
    if len(leaves) == 1:
        (exc,) = leaves
        if isinstance(exc, CommandError):
            return _fail(args, str(exc), exc.status)
        if isinstance(exc, BrokenPipeError):
            _quiet_stdout()  # the reader went away: stop quietly
            return 1
        if isinstance(exc, (zmq.ZMQError, OSError, trio.ClosedResourceError)):
            return _fail(args, str(exc), 1)
    raise error


def main(argv: list[str] | None = None) -> int:
    """Run the ``trio-zmq`` command line; return the exit status.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 1 after a runtime error, 2 after a usage error, 130
        after Ctrl-C.
    """
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version, or a usage error
            return _exit_code(exc)
        if getattr(args, "needs_endpoints", True) and not (args.bind or args.connect):
            _usage_error(args.parser, "give at least one --bind or --connect endpoint")
        if hasattr(args, "run_sync"):  # starts processes of its own; no Trio run here
            status: int = args.run_sync(args)
            return status
        try:
            trio.run(args.run, args)
        except BaseException as exc:
            return _outcome(args, exc)
        return 0
    except KeyboardInterrupt:
        return INTERRUPTED
    except SystemExit as exc:
        return _exit_code(exc)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 2


def _usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.error(message)  # prints the usage and the message, raises SystemExit(2)
