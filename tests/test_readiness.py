"""Many tasks on one socket: no lost wake-up on the edge-triggered FD, no interleaving.

Small high-water marks make tasks block often, so the waiting room (one
watcher on the FD, everyone else parked) is exercised thousands of times.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq._readiness import Readiness
from trio_zmq.testing import wait_subscribed

from .helpers import inproc_name, pair

N = 2000


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
async def test_one_dealer_sending_and_receiving_from_two_tasks_with_hwm_2(
    ctx: trio_zmq.Context, transport: str
) -> None:
    router, dealer = pair(ctx, zmq.ROUTER, zmq.DEALER, transport, sndhwm=2, rcvhwm=2)
    router.router_mandatory = 1  # block rather than drop when the dealer is full
    received: list[bytes] = []

    async def echo() -> None:
        for _ in range(N):
            await router.send_multipart(await router.recv_multipart())

    async def sender() -> None:
        for i in range(N):
            await dealer.send(b"%d" % i)

    async def receiver() -> None:
        for _ in range(N):
            received.append(await dealer.recv())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        nursery.start_soon(receiver)
        nursery.start_soon(sender)
    assert received == [b"%d" % i for i in range(N)]


async def test_several_receivers_on_one_socket_each_get_each_message_once(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH, sndhwm=1, rcvhwm=1)
    got: list[list[int]] = [[] for _ in range(5)]

    async def receiver(mine: list[int]) -> None:
        while True:
            msg = await pull.recv()
            if msg == b"stop":
                return
            mine.append(int(msg))

    async with trio.open_nursery() as nursery:
        for mine in got:
            nursery.start_soon(receiver, mine)
        for i in range(N):
            await push.send(b"%d" % i)
        for _ in got:
            await push.send(b"stop")
    everything = sorted(i for mine in got for i in mine)
    assert everything == list(range(N))
    for mine in got:
        assert mine == sorted(mine)  # each receiver sees them in order


async def test_several_multipart_senders_with_hwm_1_never_interleave(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH, sndhwm=1, rcvhwm=1)
    senders, per_sender = 6, 300

    async def sender(name: bytes) -> None:
        for i in range(per_sender):
            if i % 2:
                await push.send_multipart([name, b"%d" % i, name + b"%d" % i])
            else:  # frame by frame: the socket is held until the last frame
                await push.send(name, zmq.SNDMORE)
                await push.send(b"%d" % i, zmq.SNDMORE)
                await push.send(name + b"%d" % i)

    seen: dict[bytes, list[int]] = {}
    async with trio.open_nursery() as nursery:
        for s in range(senders):
            nursery.start_soon(sender, b"s%d" % s)
        for _ in range(senders * per_sender):
            name, seq, check = await pull.recv_multipart()
            assert check == name + seq
            seen.setdefault(name, []).append(int(seq))
    assert all(seqs == list(range(per_sender)) for seqs in seen.values())
    assert len(seen) == senders


async def test_two_pair_sockets_chatting_both_ways_from_four_tasks(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, "tcp", sndhwm=1, rcvhwm=1)
    results: dict[str, list[bytes]] = {"a": [], "b": []}

    async def send_all(sock: trio_zmq.Socket) -> None:
        for i in range(N):
            await sock.send(b"%d" % i)

    async def recv_all(sock: trio_zmq.Socket, into: list[bytes]) -> None:
        for _ in range(N):
            into.append(await sock.recv())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(recv_all, a, results["a"])
        nursery.start_soon(recv_all, b, results["b"])
        nursery.start_soon(send_all, a)
        nursery.start_soon(send_all, b)
    expected = [b"%d" % i for i in range(N)]
    assert results == {"a": expected, "b": expected}


async def test_sync_call_that_swallows_the_edge_does_not_strand_a_waiter(
    ctx: trio_zmq.Context,
) -> None:
    # pyzmq#951: a receiver sleeps on the FD; a message arrives; before the
    # scheduler looks at the FD, another call reads EVENTS, which processes
    # the socket's commands and clears the FD. The waiter must still wake.
    reads: list[Callable[[trio_zmq.Socket], object]] = [
        lambda s: s.get(zmq.EVENTS),
        lambda s: s.rcvhwm,
        lambda s: s.set(zmq.RCVHWM, 5),
        lambda s: s.getsockopt_string(zmq.LAST_ENDPOINT),
    ]
    for read in reads:
        a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
        got: list[bytes] = []

        async def receive(sock: trio_zmq.Socket = b, into: list[bytes] = got) -> None:
            into.append(await sock.recv())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            await a.send(b"edge")
            read(b)  # no await in between: the FD's edge is gone now
        assert got == [b"edge"]


@pytest.mark.parametrize(
    "touch",
    [
        lambda s: s.subscribe(b"other"),
        lambda s: s.unsubscribe(b"nothing"),
        lambda s: s.connect(inproc_name("nobody")),
        lambda s: s.get(zmq.EVENTS),
    ],
    ids=["subscribe", "unsubscribe", "connect", "events"],
)
async def test_a_sync_call_on_a_sub_does_not_strand_its_receiver(
    ctx: trio_zmq.Context, touch: Any
) -> None:
    # pyzmq#951's own case: a subscribe while a task sleeps in recv.
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)
    sub.subscribe(b"")
    await wait_subscribed(pub, sub)
    got: list[bytes] = []

    async def receive() -> None:
        got.append(await sub.recv())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        await pub.send(b"news")
        touch(sub)  # no await in between: the edge may be gone now
    assert got == [b"news"]


async def test_a_call_that_fails_does_not_strand_a_waiter(ctx: trio_zmq.Context) -> None:
    # Regression: libzmq processes the socket's commands before it fails a
    # call with EFSM, which swallowed the FD's edge under the receiver.
    rep, req = pair(ctx, zmq.REP, zmq.REQ)
    got: list[bytes] = []

    async def receive_reply() -> None:
        got.append(await req.recv())

    async with trio.open_nursery() as nursery:
        await req.send(b"request")
        assert await rep.recv() == b"request"
        nursery.start_soon(receive_reply)
        await trio.testing.wait_all_tasks_blocked()
        await rep.send(b"reply")
        with pytest.raises(zmq.ZMQError, match="REQ"):
            await req.send(b"too soon")  # no await in between: the edge is gone now
    assert got == [b"reply"]


async def test_a_failed_send_on_a_mandatory_router_does_not_strand_its_receiver(
    ctx: trio_zmq.Context,
) -> None:
    router, dealer = pair(ctx, zmq.ROUTER, zmq.DEALER)
    router.router_mandatory = 1
    got: list[list[bytes]] = []

    async def receive() -> None:
        got.append(await router.recv_multipart())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        await dealer.send(b"hello")
        with pytest.raises(zmq.ZMQError):
            await router.send_multipart([b"nobody", b"x"])  # EHOSTUNREACH
    assert [frames[1:] for frames in got] == [[b"hello"]]


async def test_waiters_for_in_and_out_on_one_socket_both_wake(ctx: trio_zmq.Context) -> None:
    peer, dealer = pair(ctx, zmq.DEALER, zmq.DEALER, sndhwm=1, rcvhwm=1)
    while True:  # fill the dealer's outgoing queue
        try:
            await dealer.send(b"fill", zmq.NOBLOCK)
        except zmq.Again:
            break
    sent, received = trio.Event(), trio.Event()

    async def blocked_send() -> None:
        await dealer.send(b"late")
        sent.set()

    async def blocked_recv() -> None:
        assert await dealer.recv() == b"hello"
        received.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked_send)
        nursery.start_soon(blocked_recv)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()
        await peer.send(b"hello")  # POLLIN for one waiter
        await received.wait()
        assert not sent.is_set()
        while await peer.recv() != b"late":  # room, so POLLOUT for the other
            pass
        await sent.wait()


async def test_a_cancelled_watcher_hands_the_fd_to_a_parked_task(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    got: list[bytes] = []

    async def receive() -> None:
        got.append(await b.recv())

    async with trio.open_nursery() as nursery:
        first_scope = trio.CancelScope()
        nursery.start_soon(_run_in, first_scope, receive)
        await trio.testing.wait_all_tasks_blocked()  # the first is the watcher
        nursery.start_soon(receive)  # the second parks
        await trio.testing.wait_all_tasks_blocked()
        first_scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        await a.send(b"to the second")
    assert got == [b"to the second"]


async def _run_in(scope: trio.CancelScope, fn: object) -> None:
    with scope:
        await fn()  # type: ignore[operator]


# ----------------------------------------------------------------------
# Readiness on its own: a fake EVENTS reader and a socketpair for the FD


class FakeSocket:
    """What a Readiness needs of a socket: EVENTS (set by the test) and an FD."""

    def __init__(self) -> None:
        import socket

        self.events = 0
        self.reads = 0
        self.fd_side, self.other_side = socket.socketpair()
        self.readiness = Readiness(self._get, self.fd_side.fileno())

    def _get(self, option: int) -> int:
        assert option == zmq.EVENTS
        self.reads += 1
        return self.events

    def fire(self) -> None:
        """Make the FD readable once, as libzmq does when commands arrive."""
        self.other_side.send(b"!")

    def drain(self) -> None:
        self.fd_side.recv(64)

    def close(self) -> None:
        self.fd_side.close()
        self.other_side.close()


@pytest.fixture
def fake() -> Any:
    sock = FakeSocket()
    yield sock
    sock.close()


POLLIN, POLLOUT = int(zmq.POLLIN), int(zmq.POLLOUT)


async def test_readiness_returns_at_once_without_a_checkpoint_when_the_event_is_there(
    fake: FakeSocket,
) -> None:
    fake.events = POLLIN
    with trio.testing.assert_no_checkpoints():
        assert await fake.readiness.wait(POLLIN) is False
    assert fake.reads == 1


async def test_readiness_first_sleeper_watches_the_fd_and_the_next_parks(
    fake: FakeSocket,
) -> None:
    rd = fake.readiness
    seq = trio.testing.Sequencer()
    order: list[str] = []

    async def sleeper(name: str, mask: int, step: int) -> None:
        async with seq(step):
            pass
        assert await rd.wait(mask) is True
        order.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper, "watcher", POLLIN, 0)
        nursery.start_soon(sleeper, "parked", POLLOUT, 1)
        async with seq(2):
            await trio.testing.wait_all_tasks_blocked()
            assert rd.waiting == rd.sleepers == 2
            # Whoever reads EVENTS hands the news on: the parked task goes.
            fake.events = POLLOUT
            assert rd.events() == POLLOUT
            await trio.testing.wait_all_tasks_blocked()
            assert order == ["parked"]
            # The watcher is kicked out of wait_readable without its FD firing.
            fake.events = POLLIN
            rd.recheck()
    assert order == ["parked", "watcher"]
    assert rd.sleepers == 0


async def test_readiness_a_watcher_that_leaves_hands_the_fd_to_a_parked_task(
    fake: FakeSocket,
) -> None:
    rd = fake.readiness
    woke: list[str] = []

    async def sleeper(name: str, scope: trio.CancelScope) -> None:
        with scope:
            await rd.wait(POLLIN)
            woke.append(name)

    watcher_scope, parked_scope = trio.CancelScope(), trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper, "watcher", watcher_scope)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(sleeper, "parked", parked_scope)
        await trio.testing.wait_all_tasks_blocked()
        watcher_scope.cancel()  # the watcher leaves, cancelled: nothing else changes
        await trio.testing.wait_all_tasks_blocked()
        assert rd.waiting == 1  # the parked task took the watch over
        reads = fake.reads
        fake.events = POLLIN
        fake.fire()  # only a watcher on the FD can see this
        await trio.testing.wait_all_tasks_blocked()
        assert fake.reads > reads
    assert woke == ["parked"]
    fake.drain()


async def test_readiness_close_wakes_the_watcher_the_parked_and_those_in_a_lot(
    fake: FakeSocket,
) -> None:
    rd = fake.readiness
    lot = trio.lowlevel.ParkingLot()
    closed: list[str] = []

    async def expect_closed(name: str, sleep: Any) -> None:
        with pytest.raises(trio.ClosedResourceError, match="already closed"):
            await sleep()
        closed.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(expect_closed, "watcher", lambda: rd.wait(POLLIN))
        nursery.start_soon(expect_closed, "parked", lambda: rd.wait(POLLOUT))
        nursery.start_soon(expect_closed, "in a lot", lambda: rd.park(lot))
        await trio.testing.wait_all_tasks_blocked()
        assert rd.sleepers == 3
        rd.close()
    assert sorted(closed) == ["in a lot", "parked", "watcher"]
    assert rd.sleepers == 0
    with pytest.raises(trio.ClosedResourceError):
        await rd.wait(0)


async def test_readiness_a_cancelled_sleeper_leaves_no_trace(fake: FakeSocket) -> None:
    rd = fake.readiness
    lot = trio.lowlevel.ParkingLot()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rd.wait, POLLIN)  # the watcher
        nursery.start_soon(rd.wait, POLLOUT)  # parked
        nursery.start_soon(rd.park, lot)
        await trio.testing.wait_all_tasks_blocked()
        assert rd.sleepers == 3
        nursery.cancel_scope.cancel()
    assert rd.sleepers == 0
    assert len(lot) == 0
    fake.events = POLLIN | POLLOUT
    assert await rd.wait(POLLIN) is False  # and it still works


async def test_readiness_a_pause_counts_as_a_sleeper_and_a_close_ends_it(
    fake: FakeSocket,
) -> None:
    rd = fake.readiness
    outcomes: list[str] = []

    async def pause() -> None:
        try:
            await rd.pause(60)
        except trio.ClosedResourceError:
            outcomes.append("closed")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pause)
        await trio.testing.wait_all_tasks_blocked()
        assert rd.sleepers == 1  # close() and lend() see it
        rd.close()
    assert outcomes == ["closed"]
    assert rd.sleepers == 0


async def test_readiness_a_pause_ends_after_its_time(
    fake: FakeSocket, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    await fake.readiness.pause(0.5)
    assert trio.current_time() - start == pytest.approx(0.5)
    assert fake.readiness.sleepers == 0


# How a watcher is kicked out of wait_readable (see _readiness.py): with
# notify_closing on the FD, which only wakes; the FD is not closed.


async def test_notify_closing_on_a_zmq_fd_only_wakes_and_the_fd_still_signals() -> None:
    # The facts the kick relies on, on a real libzmq FD and Trio's I/O manager:
    # the waiter gets ClosedResourceError, and the next wait_readable on the
    # same FD registers it again and wakes when libzmq's commands arrive.
    zctx = zmq.Context()
    pull, push = zctx.socket(zmq.PULL), zctx.socket(zmq.PUSH)
    try:
        endpoint = inproc_name()
        pull.bind(endpoint)
        fd = int(pull.get(zmq.FD))
        assert not int(pull.get(zmq.EVENTS)) & zmq.POLLIN  # the FD edge is consumed
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                woke: list[str] = []

                async def wait() -> None:
                    try:
                        await trio.lowlevel.wait_readable(fd)
                    except trio.ClosedResourceError:
                        woke.append("kicked")
                    else:
                        woke.append("readable")

                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked()
                trio.lowlevel.notify_closing(fd)
                await trio.testing.wait_all_tasks_blocked()
                assert woke == ["kicked"]

                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked()
                push.connect(endpoint)
                push.send(b"hello")  # libzmq's commands make the FD readable
                await trio.testing.wait_all_tasks_blocked()
                with trio.move_on_after(1):  # the I/O thread may take a moment
                    while len(woke) < 2:
                        await trio.sleep(0.01)
                assert woke == ["kicked", "readable"]
        assert pull.recv(zmq.NOBLOCK) == b"hello"
    finally:
        pull.close(linger=0)
        push.close(linger=0)
        zctx.term()


async def test_readiness_a_kicked_watcher_is_not_closed_and_the_next_watcher_sees_the_fd(
    fake: FakeSocket,
) -> None:
    rd = fake.readiness
    # Kick a watcher (another task read EVENTS and found its bit).
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rd.wait, POLLIN)
        await trio.testing.wait_all_tasks_blocked()
        fake.events = POLLIN
        rd.recheck()
    assert rd.sleepers == 0
    # The FD, dropped from Trio's registrations by the kick, still wakes the next one.
    fake.events = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rd.wait, POLLIN)
        await trio.testing.wait_all_tasks_blocked()
        fake.events = POLLIN
        fake.fire()
    fake.drain()


async def test_readiness_a_close_right_after_a_kick_still_closes_the_watcher(
    fake: FakeSocket,
) -> None:
    rd = fake.readiness
    outcomes: list[str] = []

    async def watcher() -> None:
        try:
            await rd.wait(POLLIN)
        except trio.ClosedResourceError:
            outcomes.append("closed")
        else:
            outcomes.append("woke")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watcher)
        await trio.testing.wait_all_tasks_blocked()
        fake.events = POLLIN
        rd.recheck()  # the kick...
        rd.close()  # ...and the close, before the watcher runs again
    assert outcomes == ["closed"]


async def test_readiness_a_task_that_comes_while_a_kicked_watcher_wakes_parks(
    fake: FakeSocket,
) -> None:
    # Until the kicked watcher has left wait_readable, nobody else may enter it
    # (Trio allows one waiter per FD): a newcomer parks, and gets the watch
    # when the kicked watcher leaves.
    rd = fake.readiness
    woke: list[str] = []

    async def sleeper(name: str, mask: int) -> None:
        await rd.wait(mask)
        woke.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper, "kicked", POLLIN)
        await trio.testing.wait_all_tasks_blocked()
        fake.events = POLLIN
        rd.recheck()  # kick, and at once, a newcomer that needs POLLOUT
        nursery.start_soon(sleeper, "newcomer", POLLOUT)
        await trio.testing.wait_all_tasks_blocked()
        assert woke == ["kicked"]
        assert rd.waiting == 1  # the newcomer took the watch over
        fake.events = POLLOUT
        fake.fire()  # only a watcher on the FD sees this
    assert woke == ["kicked", "newcomer"]
    fake.drain()


async def test_readiness_a_kick_that_finds_the_event_already_fired_neither_raises_nor_strands(
    fake: FakeSocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Older Trios on kqueue raise ENOENT from notify_closing when the FD's
    # one-shot event has fired but not yet been handled (guest mode, between
    # ticks). The caller that kicked must not see it, and the watcher wakes
    # from the event that fired. Simulated: the kick fails, the FD fires.
    def enoent(fd: int) -> None:
        raise OSError(errno.ENOENT, "No such file or directory")

    rd = fake.readiness
    woke: list[str] = []

    async def watcher() -> None:
        await rd.wait(POLLIN)
        woke.append("watcher")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watcher)
        await trio.testing.wait_all_tasks_blocked()
        fake.events = POLLIN
        with monkeypatch.context() as patch:
            patch.setattr("trio_zmq._readiness.notify_closing", enoent)
            rd.recheck()  # the kick fails quietly
            fake.fire()  # the event that had fired
    assert woke == ["watcher"]
    fake.drain()
    # Any other error from notify_closing is not swallowed.
    async with trio.open_nursery() as nursery:
        fake.events = 0
        nursery.start_soon(rd.wait, POLLIN)
        await trio.testing.wait_all_tasks_blocked()
        fake.events = POLLIN

        def ebadf(fd: int) -> None:
            raise OSError(errno.EBADF, "Bad file descriptor")

        with monkeypatch.context() as patch:
            patch.setattr("trio_zmq._readiness.notify_closing", ebadf)
            with pytest.raises(OSError, match="Bad file"):
                rd.recheck()
        fake.fire()  # the watcher still wakes from its FD
    fake.drain()
