"""The ``trio-zmq`` command line (also ``python -m trio_zmq``).

Messages go to standard output, one per line; what the command is doing
(endpoints bound, connections being made) goes to standard error, so a
script can read one and ignore the other. Errors a user can cause (a bad
endpoint, an address in use, a missing option) end the program with one line
on standard error and a non-zero status: 2 for usage errors, as argparse
does, 1 for the rest. Ctrl-C ends it with status 130 and no traceback.

The commands are listed once, in :data:`COMMANDS`: each with its help, the
function that adds its arguments and the one that runs it. The everyday
tools live in ``_tools.py``, the demo in ``_demo.py``, the benchmark in
``_bench/``; the benchmark is imported only when ``trio-zmq bench`` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

import trio
import zmq

import trio_zmq

from . import _demo, _tools
from ._cli_output import PROG, CommandError, UsageError

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

__all__ = ["COMMANDS", "Command", "build_parser", "main"]

#: The exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130


@final
@dataclass(frozen=True)
class Command:
    """One ``trio-zmq`` command.

    Attributes:
        name: what the user types after ``trio-zmq``.
        summary: one line, listed by ``trio-zmq --help`` and atop the command's own help.
        example: the lines shown under ``example:`` in the command's help.
        add_arguments: adds the command's arguments to its parser.
        run: runs the command with the parsed arguments, returns the exit status.
    """

    name: str
    summary: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _under_trio(
    command: Callable[[argparse.Namespace], Awaitable[None]],
) -> Callable[[argparse.Namespace], int]:
    """*command* run by ``trio.run``, what it raises turned into an exit status."""

    def run(args: argparse.Namespace) -> int:
        try:
            trio.run(command, args)
        except BaseException as exc:
            return _outcome(args, exc)
        return 0

    return run


# The benchmark is big, and its asyncio workers want asyncio: it is imported
# only when its command is used.


def _add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from . import _bench

    _bench.add_arguments(parser)


def _run_bench(args: argparse.Namespace) -> int:
    from . import _bench

    # Outside Trio: it starts processes of its own and waits for them.
    return _bench.run_from_arguments(args)


COMMANDS = (
    Command(
        "demo",
        "a tour of REQ/REP, PUB/SUB, PUSH/PULL and a broker, over inproc and ipc",
        f"  {PROG} demo",
        _demo.add_arguments,
        _under_trio(_demo.run),
    ),
    Command(
        "send",
        "send messages (each MESSAGE, or each line of stdin)",
        f"  {PROG} send --connect tcp://127.0.0.1:5555 hello world\n"
        f"  seq 3 | {PROG} send --connect tcp://127.0.0.1:5555 --type DEALER",
        _tools.add_send_arguments,
        _under_trio(_tools.run_send),
    ),
    Command(
        "recv",
        "print each message received, one a line",
        f"  {PROG} recv --bind tcp://127.0.0.1:5555 --count 2 --format json",
        _tools.add_recv_arguments,
        _under_trio(_tools.run_recv),
    ),
    Command(
        "pub",
        "publish messages (each MESSAGE, or each line of stdin) on a PUB socket",
        f"  {PROG} pub --bind tcp://127.0.0.1:5556 --wait-subscribers 1 'weather.paris 12 C'",
        _tools.add_pub_arguments,
        _under_trio(_tools.run_pub),
    ),
    Command(
        "sub",
        "print the messages published on the topics subscribed to",
        f"  {PROG} sub --connect tcp://127.0.0.1:5556 --topic weather.",
        _tools.add_sub_arguments,
        _under_trio(_tools.run_recv),
    ),
    Command(
        "req",
        "send requests (each MESSAGE, or each line of stdin) and print each reply",
        f"  {PROG} req --connect tcp://127.0.0.1:5557 --timeout 5 ping",
        _tools.add_req_arguments,
        _under_trio(_tools.run_req),
    ),
    Command(
        "rep",
        "answer requests, printing each one",
        f"  {PROG} rep --bind tcp://127.0.0.1:5557 --echo",
        _tools.add_rep_arguments,
        _under_trio(_tools.run_rep),
    ),
    Command(
        "proxy",
        "forward messages both ways between a frontend and a backend socket",
        f"  {PROG} proxy tcp://*:5559 tcp://*:5560                # ROUTER/DEALER broker\n"
        f"  {PROG} proxy --front-type XSUB --back-type XPUB --front-connect "
        "tcp://127.0.0.1:5556 tcp://*:5561",
        _tools.add_proxy_arguments,
        _under_trio(_tools.run_proxy),
    ),
    Command(
        "monitor",
        "print the connection events of a socket connecting to ADDR",
        f"  {PROG} monitor tcp://127.0.0.1:5555 --until HANDSHAKE_SUCCEEDED\n"
        f"  {PROG} monitor --listen tcp://127.0.0.1:5555 --type ROUTER",
        _tools.add_monitor_arguments,
        _under_trio(_tools.run_monitor),
    ),
    Command(
        "bench",
        "measure trio_zmq against blocking pyzmq and zmq.asyncio, side by side",
        f"  {PROG} bench --quick                 # under a minute\n"
        f"  {PROG} bench --only tcp_64 --rounds 9 --json tcp.json",
        _add_bench_arguments,
        _run_bench,
    ),
)

_BY_NAME = {command.name: command for command in COMMANDS}


# ----------------------------------------------------------------------
# The parser


class _CommandParser(argparse.ArgumentParser):
    """A command's parser, which adds the command's arguments when it first parses.

    Every command has a parser, for ``trio-zmq --help`` to list; only the
    command that runs needs its arguments, so only its module is imported.
    """

    arguments_from: Callable[[argparse.ArgumentParser], None] | None = None

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        if self.arguments_from is not None:
            add, self.arguments_from = self.arguments_from, None
            add(self)
        return super().parse_known_args(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``trio-zmq`` argument parser, with one subparser per command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ZeroMQ from the shell, on Trio: try the patterns, poke a running system.",
        epilog=f"Start with: {PROG} demo.  Help on a command: {PROG} COMMAND --help",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {trio_zmq.__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=command.summary,
            epilog="example:\n" + command.example,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.arguments_from = command.add_arguments
        sub.set_defaults(parser=sub)  # for a usage error found once the command runs
    return parser


# ----------------------------------------------------------------------
# Running a command


def main(argv: list[str] | None = None) -> int:
    """Run the ``trio-zmq`` command line; return the exit status.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 1 after a runtime error, 2 after a usage error, 130
        after Ctrl-C.
    """
    try:
        args = build_parser().parse_args(argv)
        return _BY_NAME[args.command].run(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except SystemExit as exc:  # --help, --version, or a usage error
        return _exit_code(exc)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 2


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
            if isinstance(exc, UsageError):  # as argparse reports one: the usage first
                args.parser.print_usage(sys.stderr)
            return _fail(args, str(exc), exc.status)
        if isinstance(exc, BrokenPipeError):
            _quiet_stdout()  # the reader went away: stop quietly
            return 1
        if isinstance(exc, (zmq.ZMQError, OSError, trio.ClosedResourceError)):
            return _fail(args, str(exc), 1)
    raise error
