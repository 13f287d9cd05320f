"""A small network lab for the network tests: namespaces, veth links, peers.

Each test builds its own network out of Linux network namespaces: a
namespace is a host, a veth pair between two namespaces is a cable. The
addresses come from the documentation range 198.51.100.0/24 (RFC 5737), one
/30 per cable, and exist only inside the namespaces made here: the machine's
own interfaces and routes are never touched, and no packet leaves it.

* A partition is one end of a cable set down. The other end loses its
  carrier but keeps its route, so what it sends vanishes without an error,
  a FIN or a reset: a silent network, as when a switch dies.
* A vanished host is its cable deleted, then its processes killed, then its
  namespace deleted. The cable goes first, so that the dying processes'
  sockets cannot say goodbye (a FIN) on the way out.
* A slow link is a ``tbf`` queue discipline on one end of a cable.

The trio_zmq side runs in this process, in a thread of its own that first
moves itself into a namespace (``setns``, which changes only the calling
thread) and then runs ``trio.run`` there: see :func:`run_trio_in`. libzmq's
I/O threads, started when the context makes its first socket, inherit that
thread's namespace (``test_network.py`` checks this against the real
libzmq). The other side runs as peer programs (``net_peer.py``) under
``ip netns exec``, which talk to the test over stdin and stdout, never over
the network under test.

Names carry the test process's pid (``tzn-PID-LABEL`` for namespaces,
``tzPIDaN``/``tzPIDbN`` for interfaces, at most 15 characters), so that runs
in parallel do not meet. Everything is removed when the lab closes, also
when a test fails; :func:`sweep_stale` removes what a crashed run left
behind (namespaces whose pid is no longer running).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import trio
import zmq

import trio_zmq

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

T = TypeVar("T")

PREFIX = "tzn-"
NETNS_DIR = Path("/var/run/netns")
SUBNET = ipaddress.ip_network("198.51.100.0/24")  # RFC 5737 TEST-NET-2
#: Set to 1 in CI: a lab that cannot be built fails the test instead of skipping it.
REQUIRE_ENV = "TRIO_ZMQ_REQUIRE_NETNS"
PEER_PROGRAM = Path(__file__).with_name("net_peer.py")
_CLONE_NEWNET = 0x40000000
_IP_TIMEOUT = 10.0  # seconds for one `ip` or `tc` command


class LabError(RuntimeError):
    """An `ip` or `tc` command failed."""


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=_IP_TIMEOUT, check=False
    )
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


async def _arun(argv: Sequence[str]) -> str:
    """An `ip`/`tc` command from inside a Trio run, without blocking it; its output."""
    child = Child(argv, stdout=True, stderr=True)
    try:
        with trio.fail_after(_IP_TIMEOUT):
            out, err = await child.communicate()
            status = await child.wait()
    finally:
        await child.aclose()
    if status != 0:
        raise LabError(f"{' '.join(argv)} failed ({status}): {err.decode().strip()}")
    return out.decode()


class Child:
    """A child process for a Trio run, started and awaited without a worker thread.

    ``trio.run_process`` and ``trio.lowlevel.open_process`` start the child
    from a Trio worker thread, which Trio keeps afterwards: started from a
    namespaced thread it would keep the namespace alive, and a peer's
    ``PR_SET_PDEATHSIG`` would fire when that worker idles out. So the child
    is forked from the calling thread, and its exit is awaited on a pidfd.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stdin: bool = False,
        stdout: bool = False,
        stderr: bool = False,
    ) -> None:
        ours: list[int] = []
        theirs: dict[str, int] = {}
        for name, wanted in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
            if wanted:
                read_end, write_end = os.pipe()
                mine, child_end = (
                    (write_end, read_end) if name == "stdin" else (read_end, write_end)
                )
                ours.append(mine)
                theirs[name] = child_end
        try:
            self.popen = subprocess.Popen(
                list(argv),
                stdin=theirs.get("stdin", subprocess.DEVNULL),
                stdout=theirs.get("stdout"),
                stderr=theirs.get("stderr"),
            )
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs.values():
                os.close(fd)
        streams = iter(trio.lowlevel.FdStream(fd) for fd in ours)
        self.stdin = next(streams) if stdin else None
        self.stdout = next(streams) if stdout else None
        self.stderr = next(streams) if stderr else None
        self._pidfd: int | None = os.pidfd_open(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    async def wait(self) -> int:
        if self.popen.poll() is None:
            assert self._pidfd is not None
            await trio.lowlevel.wait_readable(self._pidfd)
        return self.popen.wait()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()

    async def communicate(self) -> tuple[bytes, bytes]:
        """All of stdout and stderr, until the child closes them."""
        results: dict[str, bytes] = {}

        async def read_all(name: str, stream: trio.lowlevel.FdStream | None) -> None:
            chunks = []
            while stream is not None and (chunk := await stream.receive_some(65536)):
                chunks.append(chunk)
            results[name] = b"".join(chunks)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_all, "out", self.stdout)
            nursery.start_soon(read_all, "err", self.stderr)
        return results["out"], results["err"]

    async def aclose(self) -> None:
        """Kill the child if it still runs, reap it, close everything (shielded)."""
        with trio.CancelScope(shield=True):
            self.kill()
            await self.wait()
            for stream in (self.stdin, self.stdout, self.stderr):
                if stream is not None:
                    await stream.aclose()
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None


def unavailable_reason() -> str | None:
    """Why this machine cannot build a lab, or None if it can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are a Linux feature"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"iproute2's `{tool}` command is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = _run(["ip", "netns", "add", probe], check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _run(["ip", "netns", "del", probe], check=False)
    return None


def _our_namespaces() -> list[str]:
    listing = _run(["ip", "netns", "list"]).stdout
    names = [line.split()[0] for line in listing.splitlines() if line.strip()]
    return [name for name in names if name.startswith(PREFIX)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True


def _kill_processes_in(namespace: str) -> None:
    pids = _run(["ip", "netns", "pids", namespace], check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def _delete_namespace(namespace: str) -> None:
    _kill_processes_in(namespace)
    _run(["ip", "netns", "del", namespace], check=False)


def sweep_stale() -> list[str]:
    """Delete the namespaces of earlier runs whose process is gone; return their names."""
    swept = []
    for name in _our_namespaces():
        pid_text = name[len(PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            _delete_namespace(name)
            swept.append(name)
    return swept


def namespaces_of_this_run() -> list[str]:
    """Our namespaces still listed (for the check that a lab cleaned up)."""
    mine = f"{PREFIX}{os.getpid()}-"
    return [name for name in _our_namespaces() if name.startswith(mine)]


# ----------------------------------------------------------------------
# Namespaces and links


@dataclass(eq=False)
class Namespace:
    """A network namespace: a host of the lab."""

    name: str
    alive: bool = True

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def argv(self, *command: str) -> list[str]:
        """*command* run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def inode(self) -> int:
        return os.stat(self.path).st_ino


@dataclass(eq=False)
class Link:
    """A veth cable between two namespaces, with one /30 of 198.51.100.0/24."""

    index: int
    left: Namespace
    right: Namespace
    left_dev: str
    right_dev: str
    left_addr: str
    right_addr: str
    alive: bool = True

    def end(self, side: str) -> tuple[Namespace, str]:
        if side == "left":
            return self.left, self.left_dev
        if side == "right":
            return self.right, self.right_dev
        raise ValueError(side)

    async def set_down(self, side: str = "right") -> None:
        """Partition: *side*'s end goes down; the other end's packets now vanish."""
        ns, dev = self.end(side)
        await _arun(["ip", "-n", ns.name, "link", "set", "dev", dev, "down"])

    async def set_up(self, side: str = "right") -> None:
        """Heal a partition made by :meth:`set_down`."""
        ns, dev = self.end(side)
        await _arun(["ip", "-n", ns.name, "link", "set", "dev", dev, "up"])

    async def delete(self) -> None:
        """Unplug the cable (both ends go; so do the routes through it)."""
        self.alive = False
        await _arun(["ip", "-n", self.left.name, "link", "del", "dev", self.left_dev])

    def shape(self, side: str, rate: str, burst: str, latency: str) -> None:
        """A token-bucket (``tbf``) queue on *side*'s end: its sending is slowed to *rate*."""
        ns, dev = self.end(side)
        tbf = ["tbf", "rate", rate, "burst", burst, "latency", latency]
        _run(["ip", "netns", "exec", ns.name, "tc", "qdisc", "add", "dev", dev, "root", *tbf])


@dataclass(eq=False)
class Lab:
    """The namespaces and links of one test; :meth:`close` removes them all."""

    pid: int = field(default_factory=os.getpid)
    namespaces: list[Namespace] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    def namespace(self, label: str) -> Namespace:
        name = f"{PREFIX}{self.pid}-{label}"
        ns = Namespace(name)
        _run(["ip", "netns", "add", name])
        self.namespaces.append(ns)
        _run(["ip", "-n", name, "link", "set", "dev", "lo", "up"])
        return ns

    def link(self, left: Namespace, right: Namespace) -> Link:
        """A cable between *left* and *right*, both ends up, with their addresses."""
        index = len(self.links)
        if index >= SUBNET.num_addresses // 4:
            raise LabError("no /30 left in 198.51.100.0/24")
        base = int(SUBNET.network_address) + 4 * index
        left_addr = str(ipaddress.ip_address(base + 1))
        right_addr = str(ipaddress.ip_address(base + 2))
        left_dev, right_dev = f"tz{self.pid}a{index}", f"tz{self.pid}b{index}"
        assert len(left_dev) <= 15, left_dev
        peer = ["peer", "name", right_dev, "netns", right.name]
        _run(["ip", "link", "add", left_dev, "netns", left.name, "type", "veth", *peer])
        link = Link(index, left, right, left_dev, right_dev, left_addr, right_addr)
        self.links.append(link)
        for ns, dev, addr in ((left, left_dev, left_addr), (right, right_dev, right_addr)):
            _run(["ip", "-n", ns.name, "addr", "add", f"{addr}/30", "dev", dev])
            _run(["ip", "-n", ns.name, "link", "set", "dev", dev, "up"])
        return link

    async def vanish(self, ns: Namespace) -> None:
        """The host *ns* vanishes: its cables go, then its processes, then itself."""
        for link in self.links:
            if link.alive and ns in (link.left, link.right):
                await link.delete()
        # Not in a worker thread: one started from this namespaced thread would
        # be cached by Trio, inside this namespace, after the test.
        for pid in (await _arun(["ip", "netns", "pids", ns.name])).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        await _arun(["ip", "netns", "del", ns.name])
        ns.alive = False

    def close(self) -> None:
        """Remove every link and namespace of the lab (safe to call twice)."""
        for link in self.links:
            if link.alive:
                link.alive = False
                _run(["ip", "-n", link.left.name, "link", "del", "dev", link.left_dev], check=False)
        for ns in self.namespaces:
            _delete_namespace(ns.name)
            ns.alive = False


# ----------------------------------------------------------------------
# The trio_zmq side: a Trio run in a thread inside a namespace


def enter_namespace(ns: Namespace) -> None:
    """Move the calling thread (only it) into *ns*."""
    libc = ctypes.CDLL(None, use_errno=True)  # os.setns() is Python 3.12+
    fd = os.open(ns.path, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {ns.name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def thread_namespace_inode(tid: int | None = None) -> int:
    """The network namespace of thread *tid* of this process (default: the caller)."""
    path = "/proc/thread-self/ns/net" if tid is None else f"/proc/self/task/{tid}/ns/net"
    return os.stat(path).st_ino


def threads_in_other_namespaces() -> list[str]:
    """Threads of this process not in the calling thread's namespace, as ``tid (name)``."""
    here = thread_namespace_inode()
    strays = []
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that just ended
            if thread_namespace_inode(int(tid)) != here:
                comm = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
                strays.append(f"{tid} ({comm})")
    return strays


def wait_for_threads_to_leave(seconds: float = 5.0) -> list[str]:
    """Wait (bounded) until no thread of this process is in another namespace; the strays."""
    deadline = time.monotonic() + seconds
    while (strays := threads_in_other_namespaces()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return strays


@contextlib.asynccontextmanager
async def zmq_context() -> AsyncIterator[trio_zmq.Context]:
    """A trio_zmq context whose termination runs in this thread, at once.

    ``trio_zmq.Context`` terminates in a Trio worker thread, which Trio then
    keeps for reuse: started from a namespaced thread, it would keep the
    namespace alive after the test. Every socket is closed with linger 0, so
    terminating here does not wait.
    """
    zctx: zmq.Context[Any] = zmq.Context()
    try:
        async with trio_zmq.Context.from_context(zctx, linger=0) as ctx:
            yield ctx
    finally:
        zctx.destroy(linger=0)


def run_trio_in(
    ns: Namespace, async_fn: Callable[..., Awaitable[T]], *args: Any, timeout: float
) -> T:
    """Run ``async_fn(*args)`` with ``trio.run`` in a new thread inside *ns*; return its result.

    The run is bounded by ``trio.fail_after(timeout)``. An exception in it is
    raised here. If the calling thread is interrupted (Ctrl-C), the run is
    cancelled and given a moment to clean up before the interrupt goes on.
    """
    outcome: list[tuple[bool, Any]] = []
    started = threading.Event()
    handles: dict[str, Any] = {}

    async def bounded() -> T:
        with trio.CancelScope() as scope:
            handles["scope"] = scope
            handles["token"] = trio.lowlevel.current_trio_token()
            started.set()
            with trio.fail_after(timeout):
                return await async_fn(*args)
        raise trio.TooSlowError("the run was cancelled from outside")

    def target() -> None:
        try:
            enter_namespace(ns)
            outcome.append((True, trio.run(bounded)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            started.set()

    thread = threading.Thread(target=target, name=f"trio in {ns.name}", daemon=True)
    thread.start()
    try:
        thread.join(timeout + 30)
    except BaseException:
        started.wait(5)
        if "token" in handles:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(handles["scope"].cancel, trio_token=handles["token"])
        thread.join(10)
        raise
    if thread.is_alive():
        raise RuntimeError(f"the Trio run in {ns.name} did not end within {timeout + 30} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result


# ----------------------------------------------------------------------
# Peers: net_peer.py under `ip netns exec`, spoken to over stdin/stdout


class Peer:
    """A peer program running in a namespace; JSON lines both ways."""

    def __init__(self, child: Child, label: str) -> None:
        self.child = child
        self.label = label
        self._buffer = b""
        self.events: list[dict[str, Any]] = []  # every line received, in order

    async def _line(self) -> dict[str, Any]:
        assert self.child.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.child.stdout.receive_some(65536)
            if not chunk:
                raise RuntimeError(f"peer {self.label} ended (exit status {self.child.returncode})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        self.events.append(message)
        return message

    async def expect(self, event: str) -> dict[str, Any]:
        """The next line whose ``event`` is *event* (other lines are kept in ``events``)."""
        while True:
            message = await self._line()
            if message.get("event") == event:
                return message

    async def command_nowait(self, cmd: str, **arguments: Any) -> None:
        """Send a command that has no reply."""
        assert self.child.stdin is not None
        await self.child.stdin.send_all(json.dumps({"cmd": cmd, **arguments}).encode() + b"\n")

    async def command(self, cmd: str, **arguments: Any) -> dict[str, Any]:
        """Send a command; return the peer's reply to it."""
        await self.command_nowait(cmd, **arguments)
        while True:
            message = await self._line()
            if message.get("reply") == cmd:
                return message


@contextlib.asynccontextmanager
async def start_peer(ns: Namespace, role: str, **config: Any) -> AsyncIterator[Peer]:
    """Run ``net_peer.py ROLE CONFIG`` in *ns* until the block exits; yield once it is ready.

    The peer dies with the thread that started it (``PR_SET_PDEATHSIG``), so
    also when this process is killed.
    """
    argv = ns.argv(sys.executable, str(PEER_PROGRAM), role, json.dumps(config))
    child = Child(argv, stdin=True, stdout=True)
    peer = Peer(child, f"{role} in {ns.name}")
    try:
        with trio.fail_after(30):
            await peer.expect("ready")
        yield peer
    finally:
        await child.aclose()
