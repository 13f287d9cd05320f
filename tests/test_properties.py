"""Random programs of sends, receives, cancellations and closes keep Trio's promises.

Hypothesis draws a program: a topology (PAIR both ways, DEALERs and a ROUTER
both ways, PUSHes into a PULL) with tiny high-water marks, and a handful of
tasks, each sending, receiving or poking (option reads, ``poll``) on one
socket with a random deadline per call. Some programs close a socket part
way. Each program runs in its own ``trio.run`` under
``MockClock(autojump_threshold=0)`` over inproc, which libzmq serves
synchronously in the calling thread: deadlines land exactly when every task
is asleep, and a lost wake-up shows as the whole run going to sleep, which
the clock turns into an immediate ``TooSlowError``.

The invariants:

* every message whose send returned is received exactly once, and each
  sender's messages arrive in its order; a cancelled send never arrives
  (without a close; with one, what arrives is still a subset, in order, once);
* when every task is asleep, none of them waits for something the socket
  already has (``EVENTS`` read from the raw socket), and a final drain of
  everything still queued completes;
* closing a socket ends every task waiting on it with
  ``trio.ClosedResourceError``, and every later call on it raises the same.

A second family of programs runs pipelines: producers and consumers on
``open_channels`` at both ends of a PUSH/PULL pair, optionally with the
native proxy in between, cancelled and restarted at random moments.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import trio.testing
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_zmq

from .helpers import inproc_name

# Virtual seconds (the clock is a MockClock). -1 and 0: cancelled before the
# call does anything; small: lands while the call waits; inf: never.
DEADLINES = (-1.0, 0.0, 1e-4, 1e-3, 1e-2, math.inf, math.inf, math.inf)
# Longer than every finite deadline of a program put together: after this
# much virtual time, every task is done or waits with no deadline.
PHASE_TIME = 2.0
BOUND = 50 * PHASE_TIME  # virtual; only reached when the run is stuck

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PATTERNS = ("pair", "dealer_router", "push_pull")


@dataclass(frozen=True)
class Op:
    deadline: float
    frame_by_frame: bool = False  # send the frames one call each, with SNDMORE
    dest: int = 0  # a ROUTER's destination: which DEALER
    poll_ms: int = 0  # a poke's poll timeout


@dataclass(frozen=True)
class TaskPlan:
    sock: int
    role: str  # "send", "recv" or "poke"
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class Program:
    pattern: str
    hwm: int
    peers: int
    multipart: bool
    tasks: tuple[TaskPlan, ...]
    close: int | None  # the socket to close, if any
    close_at: float | None  # virtual time of the close; None: once all tasks sleep


def _roles(pattern: str, index: int) -> list[str]:
    if pattern == "push_pull":
        return ["recv", "poke"] if index == 0 else ["send", "poke"]
    return ["send", "recv", "poke"]


@st.composite
def programs(draw: st.DrawFn, pattern: str) -> Program:
    peers = 1 if pattern == "pair" else draw(st.integers(1, 3))
    n_socks = 2 if pattern == "pair" else peers + 1
    multipart = draw(st.booleans())
    tasks = []
    for _ in range(draw(st.integers(2, 6))):
        sock = draw(st.integers(0, n_socks - 1))
        role = draw(st.sampled_from(_roles(pattern, sock)))
        ops = draw(
            st.lists(
                st.builds(
                    Op,
                    deadline=st.sampled_from(DEADLINES),
                    frame_by_frame=st.booleans() if multipart else st.just(False),
                    dest=st.integers(0, peers - 1),
                    poll_ms=st.sampled_from([0, 1, 5, -1]),
                ),
                min_size=1,
                max_size=12,
            )
        )
        tasks.append(TaskPlan(sock, role, tuple(ops)))
    close = draw(st.one_of(st.none(), st.integers(0, n_socks - 1)))
    close_at = draw(st.sampled_from([None, 0.0, 1e-4, 1e-3])) if close is not None else None
    return Program(
        pattern, draw(st.integers(1, 3)), peers, multipart, tuple(tasks), close, close_at
    )


def _build(ctx: trio_zmq.Context, program: Program) -> list[trio_zmq.Socket]:
    hwm = {"sndhwm": program.hwm, "rcvhwm": program.hwm}
    name = inproc_name("prop")
    if program.pattern == "pair":
        a = ctx.socket(zmq.PAIR, **hwm)
        b = ctx.socket(zmq.PAIR, **hwm)
        a.bind(name)
        b.connect(name)
        return [a, b]
    if program.pattern == "push_pull":
        pull = ctx.socket(zmq.PULL, **hwm)
        pull.bind(name)
        pushes = [ctx.socket(zmq.PUSH, **hwm) for _ in range(program.peers)]
        for push in pushes:
            push.connect(name)
        return [pull, *pushes]
    # ROUTER_MANDATORY: a ROUTER send to a full peer waits instead of dropping.
    router = ctx.socket(zmq.ROUTER, router_mandatory=1, **hwm)
    router.bind(name)
    dealers = []
    for i in range(program.peers):
        dealer = ctx.socket(zmq.DEALER, routing_id=b"d%d" % i, **hwm)
        dealer.connect(name)
        dealers.append(dealer)
    return [router, *dealers]


async def _introduce(socks: list[trio_zmq.Socket], program: Program) -> None:
    """DEALERs say hello, so that the ROUTER can route to them."""
    if program.pattern != "dealer_router":
        return
    for dealer in socks[1:]:
        await dealer.send(b"hello")
    for _ in socks[1:]:
        await socks[0].recv_multipart()


@dataclass
class Run:
    program: Program
    socks: list[trio_zmq.Socket]
    # (sender task, seq) -> receiving socket, for every send that returned
    sent: dict[tuple[int, int], int] = field(default_factory=dict)
    # receiver task -> [(sender task, seq, receiving socket)] in arrival order
    got: dict[int, list[tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(list))
    inflight: dict[int, tuple[str, int, int]] = field(
        default_factory=dict
    )  # task -> (what, sock, mask)
    ended_closed: set[int] = field(default_factory=set)
    waiting_at_close: set[int] = field(default_factory=set)
    closed: bool = False

    def dest_of(self, sock: int, op: Op) -> int:
        pattern = self.program.pattern
        if pattern == "pair":
            return 1 - sock
        if pattern == "push_pull":
            return 0
        return op.dest + 1 if sock == 0 else 0


def _frames(run: Run, task: int, seq: int, sock: int, op: Op) -> list[bytes]:
    frames = [b"%d:%d" % (task, seq)]
    if run.program.multipart:
        frames += [b"", b"x" * (seq % 5)]
    if run.program.pattern == "dealer_router" and sock == 0:
        frames.insert(0, b"d%d" % op.dest)
    return frames


async def _call(run: Run, task: int, what: str, sock: int, mask: int, call: Any) -> Any:
    run.inflight[task] = (what, sock, mask)
    try:
        return await call()
    finally:
        del run.inflight[task]


async def _sender(run: Run, task: int, plan: TaskPlan) -> None:
    sock = run.socks[plan.sock]
    for seq, op in enumerate(plan.ops):
        frames = _frames(run, task, seq, plan.sock, op)
        with trio.CancelScope(deadline=trio.current_time() + op.deadline):
            if op.frame_by_frame:
                await _call(
                    run, task, "send", plan.sock, zmq.POLLOUT,
                    lambda: sock.send(frames[0], zmq.SNDMORE),
                )  # fmt: skip
                # The first frame went: the message must be completed, whatever
                # the outer deadline; each later frame gets its own deadlines.
                with trio.CancelScope(shield=True):
                    for i, frame in enumerate(frames[1:], 1):
                        flags = zmq.SNDMORE if i < len(frames) - 1 else 0
                        for deadline in (*DEADLINES[2:], math.inf):
                            with trio.CancelScope(deadline=trio.current_time() + deadline):
                                await _call(
                                    run, task, "send", plan.sock, zmq.POLLOUT,
                                    lambda: sock.send(frame, flags),
                                )  # fmt: skip
                                break
            elif len(frames) > 1:
                await _call(
                    run, task, "send", plan.sock, zmq.POLLOUT, lambda: sock.send_multipart(frames)
                )
            else:
                await _call(run, task, "send", plan.sock, zmq.POLLOUT, lambda: sock.send(frames[0]))
            run.sent[task, seq] = run.dest_of(plan.sock, op)


def _parse(run: Run, sock: int, msg: list[bytes]) -> tuple[int, int]:
    if run.program.pattern == "dealer_router" and sock == 0:
        msg = msg[1:]
    sender, seq = msg[0].split(b":")
    if run.program.multipart:
        assert msg[1:] == [b"", b"x" * (int(seq) % 5)], msg
    else:
        assert len(msg) == 1, msg
    return int(sender), int(seq)


async def _receive(run: Run, sock_index: int) -> list[bytes]:
    sock = run.socks[sock_index]
    if run.program.multipart or (run.program.pattern == "dealer_router" and sock_index == 0):
        return await sock.recv_multipart()
    return [await sock.recv()]


async def _receiver(run: Run, task: int, plan: TaskPlan) -> None:
    for op in plan.ops:
        with trio.CancelScope(deadline=trio.current_time() + op.deadline):
            msg = await _call(
                run, task, "recv", plan.sock, zmq.POLLIN, lambda: _receive(run, plan.sock)
            )
            run.got[task].append((*_parse(run, plan.sock, msg), plan.sock))


async def _poker(run: Run, task: int, plan: TaskPlan) -> None:
    """Synchronous calls and polls, which read EVENTS and can eat the FD's edge."""
    sock = run.socks[plan.sock]
    for op in plan.ops:
        sock.get(zmq.EVENTS)
        _ = sock.rcvhwm
        with trio.CancelScope(deadline=trio.current_time() + op.deadline):
            mask = zmq.POLLIN | zmq.POLLOUT if op.poll_ms else zmq.POLLIN
            timeout = None if op.poll_ms < 0 else op.poll_ms
            await _call(run, task, "poll", plan.sock, mask, lambda: sock.poll(timeout, mask))


async def _run_task(run: Run, task: int, plan: TaskPlan) -> None:
    body = {"send": _sender, "recv": _receiver, "poke": _poker}[plan.role]
    try:
        await body(run, task, plan)
    except trio.ClosedResourceError:
        assert run.closed
        assert plan.sock == run.program.close
        run.ended_closed.add(task)


def _raw_events(sock: trio_zmq.Socket) -> int:
    return int(sock.underlying.get(zmq.EVENTS))


def _assert_nobody_sleeps_needlessly(run: Run) -> None:
    """Called once every task sleeps: nobody may wait for what is already there."""
    for task, (what, index, mask) in run.inflight.items():
        sock = run.socks[index]
        if sock.closed:
            continue
        if what == "send" and (
            sock._turn.owner is not None or (run.program.pattern == "dealer_router" and index == 0)
        ):
            # Waiting for another task's half-sent message; or a ROUTER, whose
            # POLLOUT says "some peer has room", not "this peer has room".
            continue
        events = _raw_events(sock)
        assert not events & mask, (
            f"task {task} sleeps in {what} on socket {index} although EVENTS={events}"
        )


async def _closer(run: Run) -> None:
    program = run.program
    assert program.close is not None
    if program.close_at is None:
        await trio.sleep(PHASE_TIME / 2)  # later than every finite deadline
        await trio.testing.wait_all_tasks_blocked()
        run.waiting_at_close = {t for t, (_, s, _) in run.inflight.items() if s == program.close}
    else:
        await trio.sleep(program.close_at)
    run.closed = True
    run.socks[program.close].close()


async def _drain(run: Run, sock_index: int, count: int, into: list[tuple[int, int, int]]) -> None:
    for _ in range(count):
        into.append((*_parse(run, sock_index, await _receive(run, sock_index)), sock_index))
    sock = run.socks[sock_index]
    with pytest.raises(zmq.Again):
        await sock.recv(zmq.NOBLOCK)  # nothing more than was sent


def _check_delivery(run: Run, drained: list[tuple[int, int, int]]) -> None:
    arrivals = [m for msgs in run.got.values() for m in msgs] + drained
    seen = [(sender, seq) for sender, seq, _ in arrivals]
    assert len(seen) == len(set(seen)), "a message arrived twice"
    for sender, seq, sock in arrivals:
        assert run.sent.get((sender, seq)) == sock, (
            f"message {sender}:{seq} arrived on socket {sock} but its send did not return"
        )
    # Each receiving task, and the drain after all of them, sees the messages
    # of each sender to each socket in the order they were sent.
    for sequence in [*run.got.values(), drained]:
        last: dict[tuple[int, int], int] = {}
        for sender, seq, sock in sequence:
            assert seq > last.get((sender, sock), -1), f"{sender} out of order: {sequence}"
            last[sender, sock] = seq
    if not run.closed:
        assert set(seen) == set(run.sent), "a message whose send returned never arrived"


async def _run_program(program: Program) -> None:
    # The bound excludes leaving the context: its worker thread counts as
    # "everyone asleep" to the autojumping clock.
    async with trio_zmq.Context(linger=0) as ctx:
        with trio.fail_after(BOUND):
            socks = _build(ctx, program)
            await _introduce(socks, program)
            run = Run(program, socks)
            async with trio.open_nursery() as nursery:
                for task, plan in enumerate(program.tasks):
                    nursery.start_soon(_run_task, run, task, plan)
                if program.close is not None:
                    nursery.start_soon(_closer, run)
                await trio.sleep(PHASE_TIME)
                await trio.testing.wait_all_tasks_blocked()
                _assert_nobody_sleeps_needlessly(run)
                # Whoever still waits (with no deadline) would wait forever.
                nursery.cancel_scope.cancel()
            assert run.waiting_at_close <= run.ended_closed, (
                "a task waiting on the socket when it closed did not get ClosedResourceError"
            )
            drained: list[tuple[int, int, int]] = []
            if not run.closed:
                expected: dict[int, int] = defaultdict(int)
                received = {(s, q) for msgs in run.got.values() for s, q, _ in msgs}
                for key, sock_index in run.sent.items():
                    if key not in received:
                        expected[sock_index] += 1
                async with trio.open_nursery() as nursery:
                    for sock_index in range(len(socks)):
                        if program.pattern == "push_pull" and sock_index > 0:
                            continue  # a PUSH cannot receive
                        nursery.start_soon(_drain, run, sock_index, expected[sock_index], drained)
            else:
                closed_sock = socks[program.close]  # type: ignore[index]
                with pytest.raises(trio.ClosedResourceError):
                    await closed_sock.send(b"late")
                with pytest.raises(trio.ClosedResourceError):
                    await closed_sock.recv()
            _check_delivery(run, drained)


def _execute(program: Program) -> None:
    trio.run(_run_program, program, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("pattern", PATTERNS)
@SETTINGS
@given(data=st.data())
def test_random_programs_keep_every_promise(pattern: str, data: st.DataObject) -> None:
    _execute(data.draw(programs(pattern)))


async def test_router_send_to_a_full_peer_waits_without_spinning(
    ctx: trio_zmq.Context, autojump_clock: trio.testing.MockClock
) -> None:
    # ROUTER_MANDATORY reports POLLOUT while any peer has room: a send to the
    # full one used to retry forever without a checkpoint, hanging the run.
    router = ctx.socket(zmq.ROUTER, router_mandatory=1, sndhwm=1)
    name = inproc_name()
    router.bind(name)
    full = ctx.socket(zmq.DEALER, routing_id=b"full", rcvhwm=1)
    free = ctx.socket(zmq.DEALER, routing_id=b"free", rcvhwm=1)
    for dealer in (full, free):
        dealer.connect(name)
        await dealer.send(b"hello")
        await router.recv_multipart()
    sent = 0
    with trio.move_on_after(1):
        while True:
            await router.send_multipart([b"full", b"%d" % sent])
            sent += 1
    assert sent >= 1  # the rest waited, and the deadline could stop them
    async with trio.open_nursery() as nursery:
        nursery.start_soon(router.send_multipart, [b"full", b"%d" % sent])
        for i in range(sent + 1):
            assert await full.recv() == b"%d" % i


# ----------------------------------------------------------------------
# Pipelines: open_channels at both ends, and the native proxy in the middle.
#
# Producer tasks push numbered messages in, consumer tasks take them out,
# every call with a random deadline; the proxy is cancelled and restarted at
# random moments. After the random phase the pipeline is drained, and every
# message whose send returned must arrive exactly once, in its producer's
# order; no message may arrive whose send did not return.


@dataclass(frozen=True)
class Pipeline:
    hwm: int
    send_buffer: int
    receive_buffer: int
    producers: tuple[tuple[float, ...], ...]  # each: the deadlines of its sends
    consumers: tuple[tuple[float, ...], ...]  # each: the deadlines of its receives
    proxy_runs: tuple[float, ...]  # the native proxy: how long each run lasts


@st.composite
def pipelines(draw: st.DrawFn, with_proxy: bool) -> Pipeline:
    deadlines = st.lists(st.sampled_from(DEADLINES), min_size=1, max_size=10).map(tuple)
    return Pipeline(
        hwm=draw(st.integers(1, 3)),
        send_buffer=draw(st.sampled_from([0, 1, 4])),
        receive_buffer=draw(st.sampled_from([0, 1, 4])),
        producers=tuple(draw(st.lists(deadlines, min_size=1, max_size=4))),
        consumers=tuple(draw(st.lists(deadlines, min_size=1, max_size=3))),
        proxy_runs=tuple(
            draw(st.lists(st.sampled_from([0.0, 1e-4, 1e-3, 1e-2]), max_size=4))
            if with_proxy
            else []
        ),
    )


async def _run_pipeline(plan: Pipeline, with_proxy: bool) -> None:
    sent: list[tuple[int, int]] = []
    got: list[list[tuple[int, int]]] = [[] for _ in plan.consumers]
    hwm = {"sndhwm": plan.hwm, "rcvhwm": plan.hwm}
    async with trio_zmq.Context(linger=0) as ctx:
        with trio.fail_after(BOUND):
            push = ctx.socket(zmq.PUSH, **hwm)
            pull = ctx.socket(zmq.PULL, **hwm)
            if with_proxy:
                frontend = ctx.socket(zmq.PULL, **hwm)
                backend = ctx.socket(zmq.PUSH, **hwm)
                push.connect(frontend.bind(inproc_name("pipe-in")))
                pull.connect(backend.bind(inproc_name("pipe-out")))
            else:
                push.connect(pull.bind(inproc_name("pipe")))

            async def producer(p: int, deadlines: tuple[float, ...], out: Any) -> None:
                async with out:
                    for seq, deadline in enumerate(deadlines):
                        with trio.CancelScope(deadline=trio.current_time() + deadline):
                            await out.send([b"%d:%d" % (p, seq)])
                            sent.append((p, seq))

            async def consumer(c: int, deadlines: tuple[float, ...], into: Any) -> None:
                async with into:
                    for deadline in deadlines:
                        with trio.CancelScope(deadline=trio.current_time() + deadline):
                            (frame,) = await into.receive()
                            p, seq = frame.split(b":")
                            got[c].append((int(p), int(seq)))

            async def proxy_runs(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                for length in plan.proxy_runs:  # each run cancelled after *length*
                    with trio.move_on_after(length):
                        await trio_zmq.proxy(frontend, backend)
                task_status.started()
                await trio_zmq.proxy(frontend, backend)  # then for good, to drain

            async def drainer(into: Any) -> None:
                async for (frame,) in into:
                    p, seq = frame.split(b":")
                    drained.append((int(p), int(seq)))

            drained: list[tuple[int, int]] = []
            async with trio.open_nursery() as outer:
                if with_proxy:
                    outer.start_soon(proxy_runs)
                async with trio_zmq.open_channels(pull, plan.receive_buffer) as (_, receive):
                    async with trio_zmq.open_channels(push, plan.send_buffer) as (send, _):
                        async with trio.open_nursery() as nursery:
                            for p, deadlines in enumerate(plan.producers):
                                nursery.start_soon(producer, p, deadlines, send.clone())
                            for c, deadlines in enumerate(plan.consumers):
                                nursery.start_soon(consumer, c, deadlines, receive.clone())
                            await trio.sleep(PHASE_TIME)
                            await trio.testing.wait_all_tasks_blocked()
                            nursery.cancel_scope.cancel()  # consumers may wait forever
                        # Someone must take the rest, or leaving the send block,
                        # which sends everything it accepted, would wait forever.
                        outer.start_soon(drainer, receive.clone())
                    # Every accepted message went out; over inproc, once every
                    # task sleeps, every one of them has come through.
                    await trio.testing.wait_all_tasks_blocked()
                    outer.cancel_scope.cancel()
    arrivals = [m for msgs in got for m in msgs] + drained
    assert len(arrivals) == len(set(arrivals)), "a message arrived twice"
    assert set(arrivals) == set(sent), "a message whose send returned never arrived"
    for sequence in [*got, drained]:
        last: dict[int, int] = {}
        for p, seq in sequence:
            assert seq > last.get(p, -1), f"producer {p} out of order: {sequence}"
            last[p] = seq


@pytest.mark.parametrize("with_proxy", [False, True], ids=["channels", "channels+proxy"])
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_random_pipelines_through_channels_and_a_proxy_lose_nothing(
    with_proxy: bool, data: st.DataObject
) -> None:
    plan = data.draw(pipelines(with_proxy))
    trio.run(_run_pipeline, plan, with_proxy, clock=trio.testing.MockClock(autojump_threshold=0))
