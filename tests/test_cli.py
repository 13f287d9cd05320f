"""The ``trio-zmq`` command line, run as users run it: in child processes.

Children report readiness on stderr ("bound to ENDPOINT"); the tests wait
for that line, never for time to pass. Every child is killed and reaped when
its test ends, and each test is bounded by the conftest's ``fail_after``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio
import zmq

import trio_zmq
from trio_zmq import _cli, _tools
from trio_zmq._cli import COMMANDS, _outcome, build_parser, main
from trio_zmq._cli_output import format_message

from . import helpers
from .helpers import ipc_endpoint, short_temp_dir

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Iterator, Mapping

# The command line as a user runs it, but with Ctrl-C restored: a test run
# started in the background by a non-interactive shell inherits SIGINT
# ignored, and the Ctrl-C tests would then wait for nothing.
CLI = [
    sys.executable,
    "-X",
    "dev",
    "-W",
    "error",
    "-c",
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'trio-zmq'; runpy.run_module('trio_zmq', run_name='__main__', alter_sys=True)",
]
LOCAL = "tcp://127.0.0.1:*"
CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ipc_dir() -> Iterator[str]:
    """A short directory for ipc files, never under the checkout or ``tmp_path``."""
    with short_temp_dir() as path:
        yield path


@pytest.fixture
def deep_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR deep in the tree, as nox sets it (``.nox/SESSION/tmp``) in a checkout
    at a long path; this process and its children see it."""
    if helpers.short_temp_root() != helpers.SHORT_ROOT:  # pragma: no cover
        pytest.skip("no writable /tmp: ipc files go under TMPDIR")
    deep = tmp_path.joinpath(*["a-fairly-long-directory-name"] * 5)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    return deep


class Child:
    """A running ``trio-zmq`` child whose stderr is read line by line."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.stderr = b""
        self._seen = 0  # stderr lines already matched

    async def wait_for_line(self, text: str) -> str:
        """The next stderr line that contains *text*, once the child prints it."""
        assert self.process.stderr is not None
        while True:
            lines = self.stderr.decode().split("\n")[:-1]  # complete lines only
            for index in range(self._seen, len(lines)):
                if text in lines[index]:
                    self._seen = index + 1
                    return lines[index]
            chunk = await self.process.stderr.receive_some()
            if not chunk:
                raise AssertionError(f"child ended before printing {text!r}: {self.stderr!r}")
            self.stderr += chunk

    async def bound_endpoint(self) -> str:
        return (await self.wait_for_line("bound to ")).rsplit(" ", 1)[1]

    async def finish(self, stdin: bytes | None = None) -> tuple[int, str, str]:
        """Feed *stdin*, read stdout and stderr to the end; the exit status and both."""
        process = self.process
        assert process.stdout is not None
        assert process.stderr is not None
        out = bytearray()

        async def read_stdout() -> None:
            assert process.stdout is not None
            while chunk := await process.stdout.receive_some():
                out.extend(chunk)

        async def read_stderr() -> None:
            assert process.stderr is not None
            while chunk := await process.stderr.receive_some():
                self.stderr += chunk

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_stdout)
            nursery.start_soon(read_stderr)
            if process.stdin is not None:
                if stdin:
                    await process.stdin.send_all(stdin)
                await process.stdin.aclose()
        status = await process.wait()
        return status, out.decode(), self.stderr.decode()


@asynccontextmanager
async def cli(
    *args: str, stdin: bool = False, env: Mapping[str, str] | None = None
) -> AsyncIterator[Child]:
    """Run ``python -m trio_zmq ARGS``, with *env* added to the environment; kill
    and reap it when the block exits."""
    process = await trio.lowlevel.open_process(
        [*CLI, *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env} if env else None,
    )
    try:
        yield Child(process)
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()


async def run_cli(
    *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    async with cli(*args, stdin=stdin is not None, env=env) as child:
        return await child.finish(stdin)


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "Error:" not in stderr  # nothing like "KeyboardInterrupt" or "ZMQError:"


# ----------------------------------------------------------------------
# Happy paths


async def test_send_delivers_each_argument_to_recv_in_another_process() -> None:
    async with cli("recv", "--bind", LOCAL, "--count", "2") as receiver:
        endpoint = await receiver.bound_endpoint()
        status, _, stderr = await run_cli("send", "--connect", endpoint, "--linger", "-1", "a", "b")
        assert (status, stderr) == (0, f"trio-zmq send: connecting to {endpoint}\n")
        status, out, _ = await receiver.finish()
    assert (status, out) == (0, "a\nb\n")


async def test_send_without_arguments_sends_each_line_of_stdin() -> None:
    async with cli("recv", "--bind", LOCAL, "--count", "3", "--format", "json") as receiver:
        endpoint = await receiver.bound_endpoint()
        status, _, _ = await run_cli(
            "send", "--connect", endpoint, "--linger", "-1", stdin=b"one\ntwo\r\n\xff"
        )
        assert status == 0
        status, out, _ = await receiver.finish()
    assert status == 0
    assert [json.loads(line) for line in out.splitlines()] == [["one"], ["two"], [{"hex": "ff"}]]


async def test_send_multipart_sends_the_arguments_as_frames_of_one_message() -> None:
    async with cli("recv", "--bind", LOCAL, "--count", "1", "--format", "hex") as receiver:
        endpoint = await receiver.bound_endpoint()
        args = ("send", "--connect", endpoint, "--linger", "-1", "--multipart", "ab", "c")
        assert (await run_cli(*args))[0] == 0
        status, out, _ = await receiver.finish()
    assert (status, out) == (0, "6162 63\n")


async def test_recv_binds_every_bind_option(deep_tmpdir: Path, ipc_dir: str) -> None:
    ipc = ipc_endpoint(ipc_dir, "recv")
    async with cli("recv", "--bind", LOCAL, "--bind", ipc, "--count", "2") as receiver:
        tcp = await receiver.bound_endpoint()
        assert await receiver.bound_endpoint() == ipc
        for endpoint, text in ((tcp, "over tcp"), (ipc, "over ipc")):
            sent = await run_cli("send", "-q", "--connect", endpoint, "--linger", "-1", text)
            assert sent[0] == 0
        status, out, _ = await receiver.finish()
    assert status == 0
    assert sorted(out.splitlines()) == ["over ipc", "over tcp"]


async def test_recv_connects_to_every_connect_option_and_prints_raw_bytes() -> None:
    async with trio_zmq.Context(linger=0) as ctx:
        pushes = [ctx.socket(zmq.PUSH) for _ in range(2)]
        endpoints = [push.bind(LOCAL) for push in pushes]
        args = ("--connect", endpoints[0], "--connect", endpoints[1])
        async with cli("recv", *args, "--count", "2", "--format", "raw") as receiver:
            for push, body in zip(pushes, (b"first\x00", b"second\x01"), strict=True):
                await push.send(body)  # waits for recv's connection to this PUSH
            status, out, stderr = await receiver.finish()
    assert status == 0, stderr
    assert sorted(out.splitlines()) == ["first\x00", "second\x01"]  # as they are, not escaped


async def test_recv_as_a_sub_prints_only_its_topic() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.XPUB) as pub:
        endpoint = pub.bind(LOCAL)
        async with cli(
            "recv", "--connect", endpoint, "--type", "SUB", "--topic", "b", "--count", "1"
        ) as receiver:
            assert await pub.recv() == b"\x01b"  # the subscription arrived
            await pub.send(b"a: not for it")
            await pub.send(b"b: for it")
            status, out, _ = await receiver.finish()
    assert (status, out) == (0, "b: for it\n")


async def test_send_as_a_dealer_reaches_a_router() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.ROUTER) as router:
        endpoint = router.bind(LOCAL)
        status, _, stderr = await run_cli(
            "send", "-q", "--connect", endpoint, "--type", "DEALER", "--linger", "-1", "hi"
        )
        assert (status, stderr) == (0, "")
        _peer, body = await router.recv_multipart()
    assert body == b"hi"


async def test_sub_prints_only_the_topics_it_subscribed_to() -> None:
    publish = ("--wait-subscribers", "1", "sport 1-0", "weather sunny", "weather rain")
    async with cli("pub", "--bind", LOCAL, "--linger", "-1", *publish) as publisher:
        endpoint = await publisher.bound_endpoint()
        status, out, _ = await run_cli(
            "sub", "--connect", endpoint, "--topic", "weather", "--count", "2"
        )
        assert (status, out) == (0, "weather sunny\nweather rain\n")
        status, _, stderr = await publisher.finish()
    assert status == 0
    assert "subscriber 1 wants topic 'weather'" in stderr


async def test_req_prints_the_replies_of_rep_echo() -> None:
    async with cli("rep", "--bind", LOCAL, "--echo", "--count", "2") as server:
        endpoint = await server.bound_endpoint()
        status, out, _ = await run_cli("req", "--connect", endpoint, "ping", "pong")
        assert (status, out) == (0, "ping\npong\n")
        status, out, _ = await server.finish()
    assert (status, out) == (0, "ping\npong\n")


async def test_rep_reply_answers_every_request_with_the_same_text() -> None:
    async with cli("rep", "--bind", LOCAL, "--reply", "ok", "--count", "1") as server:
        endpoint = await server.bound_endpoint()
        assert (await run_cli("req", "--connect", endpoint, "hi"))[:2] == (0, "ok\n")
        assert (await server.finish())[:2] == (0, "hi\n")


async def test_req_timeout_fails_with_one_line_when_nobody_answers() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.ROUTER) as silent:
        endpoint = silent.bind(LOCAL)
        status, _, stderr = await run_cli("req", "--connect", endpoint, "--timeout", "0.2", "hi")
    assert status == 1
    assert stderr.splitlines()[-1] == "trio-zmq req: error: no reply within 0.2 s"


@pytest.mark.timeout_seconds(60)
async def test_demo_runs_to_completion(ipc_dir: str) -> None:
    # The demo puts its ipc files under TMPDIR, which nox points into the
    # checkout: the child gets a short one, as a user's usually is.
    status, out, stderr = await run_cli("demo", env={"TMPDIR": ipc_dir})
    assert (status, stderr) == (0, "")
    for expected in (
        "client  received 'HELLO'",
        "subscriber got   weather.lima: 19 C, cloudy",
        "worker 2 squared 6: 36",
        "alice got 'alice job 1",
        "Done.",
    ):
        assert expected in out
    assert "sport.chess" not in out.split("subscriber got", 1)[1]


async def test_proxy_forwards_requests_and_replies_between_its_two_endpoints() -> None:
    async with cli("proxy", LOCAL, LOCAL) as proxy:
        front = await proxy.bound_endpoint()
        back = await proxy.bound_endpoint()
        await proxy.wait_for_line("forwarding")
        async with cli("rep", "--connect", back, "--echo", "--count", "1") as server:
            status, out, _ = await run_cli("req", "--connect", front, "through the proxy")
            assert (status, out) == (0, "through the proxy\n")
            assert (await server.finish())[:2] == (0, "through the proxy\n")
        proxy.process.send_signal(signal.SIGINT)
        status, _, stderr = await proxy.finish()
    assert status == 130
    assert_no_traceback(stderr)


async def test_proxy_connects_a_side_when_asked() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.PUB) as publisher:
        upstream = publisher.bind(LOCAL)
        args = ("--front-type", "XSUB", "--back-type", "XPUB", "--front-connect")
        async with cli("proxy", *args, upstream, LOCAL) as proxy:
            downstream = await proxy.bound_endpoint()
            async with cli("sub", "--connect", downstream, "--count", "1") as subscriber:
                await subscriber.wait_for_line("connecting to")
                # The subscription travels sub -> proxy -> publisher; until it
                # arrives, what is published is dropped: publish until seen.
                with trio.move_on_after(15):
                    while subscriber.process.poll() is None:
                        await publisher.send(b"news")
                        await trio.sleep(0.05)
                status, out, _ = await subscriber.finish()
    assert (status, out) == (0, "news\n")


async def test_monitor_prints_the_events_of_connecting_until_the_handshake() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.ROUTER) as server:
        endpoint = server.bind(LOCAL)
        status, out, _ = await run_cli("monitor", endpoint, "--until", "HANDSHAKE_SUCCEEDED")
    assert status == 0
    events = [line.split()[0] for line in out.splitlines()]
    assert events[-2:] == ["CONNECTED", "HANDSHAKE_SUCCEEDED"]
    assert all(line.split()[1] == endpoint for line in out.splitlines())


async def test_monitor_listen_prints_a_peer_connecting() -> None:
    async with cli("monitor", "--listen", LOCAL, "--type", "ROUTER", "--until", "ACCEPTED") as mon:
        endpoint = await mon.bound_endpoint()
        async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.DEALER) as peer:
            peer.connect(endpoint)
            status, out, _ = await mon.finish()
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == ["LISTENING", "ACCEPTED"]


# ----------------------------------------------------------------------
# ipc endpoints stay short wherever the checkout and tmp_path lie


def test_ipc_endpoints_stay_short_however_deep_tmpdir_and_tmp_path_are(
    deep_tmpdir: Path, tmp_path: Path
) -> None:
    assert tempfile.gettempdir() == str(deep_tmpdir)
    with zmq.Context() as zctx, zctx.socket(zmq.PULL) as sock:
        sock.linger = 0
        # The trap: an ipc file under tmp_path or TMPDIR here is one libzmq refuses.
        with pytest.raises(zmq.ZMQError):
            sock.bind(f"ipc://{deep_tmpdir}/recv")
        with short_temp_dir() as directory:
            endpoint = ipc_endpoint(directory, "recv")
            assert len(endpoint.encode()) < 100
            for outside in (tmp_path, deep_tmpdir, CHECKOUT):
                assert not Path(directory).resolve().is_relative_to(outside.resolve())
            sock.bind(endpoint)
            assert sock.last_endpoint == endpoint.encode()
            sock.unbind(endpoint)
    assert not os.path.exists(directory)  # removed with its ipc file


def test_short_temp_dir_falls_back_to_gettempdir_without_a_usable_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with short_temp_dir() as short:
        monkeypatch.setenv("TMPDIR", short)
        monkeypatch.setattr(tempfile, "tempdir", None)
        monkeypatch.setattr(helpers, "SHORT_ROOT", str(tmp_path / "missing"))
        with short_temp_dir() as directory:
            assert os.path.dirname(directory) == short
            assert os.path.basename(directory).startswith("tz-")


def test_ipc_endpoint_refuses_a_path_libzmq_would_refuse(deep_tmpdir: Path) -> None:
    with pytest.raises(ValueError, match="ipc path longer than"):
        ipc_endpoint(str(deep_tmpdir), "recv")


# ----------------------------------------------------------------------
# Errors


async def test_an_invalid_endpoint_is_a_usage_error_with_one_line() -> None:
    status, out, stderr = await run_cli("recv", "--bind", "tcp://127.0.0.1:notaport")
    assert (status, out) == (2, "")
    assert stderr == (
        "trio-zmq recv: error: cannot bind 'tcp://127.0.0.1:notaport': " + stderr.split(": ", 3)[3]
    )
    assert stderr.count("\n") == 1
    assert "endpoints look like" in stderr


async def test_an_unknown_transport_is_a_usage_error() -> None:
    status, _, stderr = await run_cli("send", "--connect", "carrier-pigeon://home", "hi")
    assert status == 2
    assert "cannot connect 'carrier-pigeon://home'" in stderr
    assert_no_traceback(stderr)


async def test_an_address_in_use_fails_with_one_line_and_status_1() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.PULL) as taken:
        endpoint = taken.bind(LOCAL)
        status, out, stderr = await run_cli("recv", "--bind", endpoint)
    assert (status, out) == (1, "")
    assert stderr.startswith(f"trio-zmq recv: error: cannot bind '{endpoint}': ")
    assert "Address already in use" in stderr
    assert stderr.count("\n") == 1


async def test_proxy_with_its_address_in_use_fails_with_one_line() -> None:
    async with trio_zmq.Context(linger=0) as ctx, ctx.socket(zmq.PULL) as taken:
        endpoint = taken.bind(LOCAL)
        status, _, stderr = await run_cli("proxy", endpoint, LOCAL)
    assert status == 1
    assert stderr.startswith(f"trio-zmq proxy: error: cannot bind '{endpoint}': ")
    assert "Address already in use" in stderr
    assert stderr.count("\n") == 1


async def test_monitor_of_a_bad_endpoint_is_a_usage_error() -> None:
    status, _, stderr = await run_cli("monitor", "carrier-pigeon://home")
    assert status == 2
    assert "carrier-pigeon://home" in stderr
    assert_no_traceback(stderr)


async def test_a_missing_endpoint_prints_usage_and_exits_2() -> None:
    status, _, stderr = await run_cli("recv", "--count", "1")
    assert status == 2
    assert stderr.startswith("usage: trio-zmq recv")
    assert stderr.splitlines()[-1] == (
        "trio-zmq recv: error: give at least one --bind or --connect endpoint"
    )


def test_a_text_that_is_not_an_endpoint_is_rejected_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["send", "--connect", "localhost:5555", "hi"]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("trio-zmq send: error: argument --connect: 'localhost:5555' is not")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["recv", "--bind", LOCAL, "--count", "0"], "argument --count: expected a positive"),
        (["recv", "--bind", LOCAL, "--type", "REQ"], "argument --type: invalid choice: 'REQ'"),
        (["rep", "--bind", LOCAL, "--echo", "--reply", "x"], "not allowed with argument"),
        (["req", "--bind", LOCAL, "--timeout", "soon"], "positive number of seconds"),
        (["proxy", LOCAL], "the following arguments are required: BACK"),
        (["monitor"], "the following arguments are required: ADDR"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_a_bad_option_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert complaint in err.splitlines()[-1]
    assert_no_traceback(err)


@pytest.mark.parametrize(
    "command", ["demo", "send", "recv", "pub", "sub", "req", "rep", "proxy", "monitor", "bench"]
)
def test_every_command_has_help_with_an_example(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: trio-zmq {command}")
    assert f"example:\n  trio-zmq {command}" in out


def test_main_without_arguments_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "send", "recv", "pub", "sub", "req", "rep", "proxy", "monitor"):
        assert f"    {command} " in out
    assert "    bench " in out


#: Each command with the fewest arguments it runs with (a test runs none of them).
SMALLEST_COMMAND_LINES = {
    "demo": [],
    "send": ["--connect", LOCAL],
    "recv": ["--bind", LOCAL],
    "pub": ["--bind", LOCAL],
    "sub": ["--connect", LOCAL],
    "req": ["--connect", LOCAL],
    "rep": ["--bind", LOCAL],
    "proxy": [LOCAL, LOCAL],
    "monitor": [LOCAL],
    "bench": [],
}


def test_every_command_in_the_table_has_a_subparser_and_a_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert [command.name for command in COMMANDS] == list(SMALLEST_COMMAND_LINES)
    ran: list[argparse.Namespace] = []

    def record(args: argparse.Namespace) -> int:
        ran.append(args)
        return 42

    for command in COMMANDS:
        monkeypatch.setitem(_cli._BY_NAME, command.name, dataclasses.replace(command, run=record))
    for name, argv in SMALLEST_COMMAND_LINES.items():
        assert main([name, *argv]) == 42
        assert ran[-1].command == name
        assert ran[-1].parser.prog == f"trio-zmq {name}"
    assert len(ran) == len(COMMANDS)


#: Run main() in a fresh interpreter, then print which of these modules it loaded.
_LOADED = (
    "import json, sys; from trio_zmq._cli import main; status = main(sys.argv[1:]); "
    "loaded = sorted(m for m in sys.modules "
    "if m.split('.')[0] in ('asyncio', 'matplotlib') "
    "or m.startswith(('zmq.asyncio', 'trio_zmq._bench'))); "
    "print(json.dumps([status, loaded]))"
)


async def modules_loaded_by(*argv: str) -> tuple[int, list[str]]:
    """The exit status of ``trio-zmq ARGV`` and which of asyncio, zmq.asyncio,
    matplotlib and the benchmark's modules it imported."""
    done = await trio.run_process(
        [sys.executable, "-X", "dev", "-W", "error", "-c", _LOADED, *argv], capture_stdout=True
    )
    status, loaded = json.loads(done.stdout.decode().splitlines()[-1])
    return status, loaded


async def test_the_everyday_tools_import_neither_asyncio_nor_the_benchmark() -> None:
    # A PUSH that connects queues its message at once, and linger 0 drops it at exit.
    send = ("send", "-q", "--connect", "tcp://127.0.0.1:5", "--linger", "0", "hi")
    assert await modules_loaded_by(*send) == (0, [])
    assert await modules_loaded_by("recv", "--help") == (0, [])


async def test_the_benchmark_is_imported_by_bench_alone_and_without_asyncio() -> None:
    # Nor matplotlib: the chart's module imports it only to draw.
    status, loaded = await modules_loaded_by("bench", "--help")
    assert status == 0
    assert {"trio_zmq._bench", "trio_zmq._bench.plot"} <= set(loaded)
    assert all(m.startswith("trio_zmq._bench") for m in loaded), loaded


def test_socket_type_choices_are_the_types_that_fit_each_command() -> None:
    moving = {"PAIR", "PUB", "SUB", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB"}
    assert set(_tools.SENDING_TYPES) == {"PUSH", "PUB", "XPUB", "PAIR", "DEALER", "ROUTER"}
    assert set(_tools.RECEIVING_TYPES) == {"PULL", "SUB", "XSUB", "PAIR", "DEALER", "ROUTER"}
    assert set(_tools.PROXY_TYPES) == moving
    assert set(_tools.ALL_TYPES) == moving | {"REQ", "REP", "STREAM"}


@pytest.mark.timeout_seconds(120)
async def test_bench_prints_ratios_and_writes_json(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    status, out, err = await run_cli(
        "bench", "--quick", "--rounds", "1", "--only", "reqrep", "--only", "proxy_64",
        "--json", str(results),
    )  # fmt: skip
    assert status == 0, err
    assert "Traceback" not in err, err
    assert "REQ/REP round trip" in out
    assert "proxy libzmq" in out
    assert "1.00x" in out  # each workload's baseline, against itself
    written = json.loads(results.read_text())
    contenders = {(r["workload"], r["contender"]) for r in written["results"]}
    assert ("reqrep", "zmq.asyncio") in contenders
    assert ("proxy_64", "proxy native") in contenders
    assert written["memory"]["extra_bytes"] > 0


def test_bench_rejects_an_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "nonsense"]) == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


# ----------------------------------------------------------------------
# Ctrl-C


async def test_ctrl_c_stops_a_waiting_recv_with_status_130_and_no_traceback() -> None:
    async with cli("recv", "--bind", LOCAL) as receiver:
        await receiver.bound_endpoint()
        receiver.process.send_signal(signal.SIGINT)
        status, out, stderr = await receiver.finish()
    assert (status, out) == (130, "")
    assert_no_traceback(stderr)


@pytest.mark.parametrize(
    "command",
    [
        ("sub", "--connect", "tcp://127.0.0.1:5"),
        ("rep", "--bind", LOCAL),
        ("req", "--connect", "tcp://127.0.0.1:5", "ping"),
    ],
    ids=["sub", "rep", "req"],
)
async def test_ctrl_c_stops_a_waiting_command_with_status_130(command: tuple[str, ...]) -> None:
    async with cli(*command) as child:
        await child.wait_for_line("bound to" if "--bind" in command else "connecting to")
        child.process.send_signal(signal.SIGINT)
        status, _, stderr = await child.finish()
    assert status == 130
    assert_no_traceback(stderr)


async def test_ctrl_c_stops_send_while_it_reads_stdin() -> None:
    async with cli("send", "--connect", "tcp://127.0.0.1:5", stdin=True) as sender:
        await sender.wait_for_line("connecting to")
        sender.process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            status = await sender.process.wait()
        _, _, stderr = await sender.finish()
    assert status == 130
    assert_no_traceback(stderr)


# ----------------------------------------------------------------------
# Output formats


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", b"caf\xc3\xa9\ta\\tb\\x00\\\\\\xff"),
        ("raw", b"caf\xc3\xa9\ta\tb\x00\\\xff"),
        ("hex", b"636166c3a9 610962005cff"),
        ("json", b'["caf\xc3\xa9", {"hex": "610962005cff"}]'),
    ],
)
def test_format_message_shows_every_frame_on_one_line(fmt: str, expected: bytes) -> None:
    frames = ["café".encode(), b"a\tb\x00\\\xff"]
    assert format_message(frames, fmt) == expected


def test_text_format_escapes_control_characters_of_any_width() -> None:
    assert format_message([b"\x1b[2J\n", "\u2028".encode()], "text") == b"\\x1b[2J\\n\t\\u2028"


def test_a_keyboard_interrupt_inside_an_exception_group_means_status_130() -> None:
    args = build_parser().parse_args(["recv", "--bind", LOCAL])
    group = BaseExceptionGroup("nursery", [BaseExceptionGroup("inner", [KeyboardInterrupt()])])
    assert _outcome(args, group) == 130


def test_a_single_zmq_error_in_a_group_is_reported_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["recv", "--bind", LOCAL])
    group = ExceptionGroup("nursery", [zmq.ZMQError(zmq.EHOSTUNREACH, "host unreachable")])
    assert _outcome(args, group) == 1
    assert capsys.readouterr().err == "trio-zmq recv: error: host unreachable\n"


def test_an_unexpected_error_keeps_its_traceback() -> None:
    args = build_parser().parse_args(["recv", "--bind", LOCAL])
    with pytest.raises(ZeroDivisionError):
        _outcome(args, ZeroDivisionError("a bug"))
