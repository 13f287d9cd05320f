"""Every public operation of ``trio_zmq.Socket``, held to the same promises.

In the manner of Trio's ``check_two_way_stream``: one table, :data:`OPERATIONS`,
has a row for each operation (how to call it so that it never waits where
that matters, and what the contract says it does in each state), and one
test per promise runs over every row it applies to:

(a) **No strand** (SPEC, Trio contract 4): with a task asleep on socket
    ``a`` in each direction, and libzmq holding a command for ``a`` that
    carries one sleeper's news (room frees, or a message arrives), the
    operation (done once, before either sleeper can run) leaves that
    sleeper able to make progress, whichever of the two watches the FD (the
    other parks). The scenario is ``tests/test_gate.py``'s, over every row
    but those that close or lend the socket.
(b) **Closed** (contract 5): on a closed socket the operation raises
    ``trio.ClosedResourceError``, except where the contract says otherwise.
(c) **Lent** (``Socket.lend``): on a lent socket it raises
    ``trio.BusyResourceError``, except where documented, and changes nothing.
(d) **One owner** (contract 8): from another thread, or another
    ``trio.run()``, it raises ``RuntimeError`` before it has any effect.
(e) **Cancellation** (contracts 1 and 2): an async operation in a cancelled
    scope raises ``trio.Cancelled`` and has no effect.

"No effect" is seen from outside, through each row's :class:`Effect` (the
peer received nothing; a message queued for ``a`` is still there; an option
keeps its value). A control test runs each operation for real and checks
that its effect does show, so that "unchanged" means something.
:func:`test_every_public_name_of_socket_has_a_row_or_is_named_a_non_operation`
makes an operation added to ``Socket`` later fail until it has a row.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import inspect
import pickle
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import drain, fill, inproc_name, pair

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from _pytest.mark import ParameterSet

PAIRS = (zmq.PAIR, zmq.PAIR)
#: The socket under test is a SUB bound to an XPUB, which receives its
#: (un)subscriptions: what ``subscribe`` does is seen at the peer.
SUB_TO_XPUB = (zmq.SUB, zmq.XPUB)
#: High-water marks of one make every step of promise (a) deterministic.
SMALL: dict[str, Any] = {"sndhwm": 1, "rcvhwm": 1, "linger": 0}
#: How long a woken task may take to show progress; a stranded one never does.
PROGRESS_S = 5
#: A send processes libzmq's commands only if it has not done so for about a
#: millisecond (libzmq's max_command_delay): wait longer, without a checkpoint.
THROTTLE_S = 0.005
#: Option values as the ``ctx`` fixture's sockets start (linger from the fixture).
LINGER, HWM = 0, 1000

NOBLOCK = zmq.NOBLOCK
OUT = b"out"
TOPIC = b"topic"
QUEUED = b'"queued"'  # text, and JSON too
PICKLED = pickle.dumps("queued")


# ----------------------------------------------------------------------
# The stage: socket ``a`` under test, and what its operations touch


@dataclass
class Stage:
    """Socket ``a`` under test, bound to ``endpoint``, with its peer ``b`` connected.

    The other endpoints are fresh inproc names for the operations that
    need one: ``fresh`` for ``bind`` and ``connect``, ``spare`` for ``a`` to
    bind and unbind, ``pending`` for ``a`` to connect to (nobody binds it)
    and disconnect, ``monitor_at`` for ``a``'s monitor, whose events
    ``listener`` receives.
    """

    ctx: trio_zmq.Context
    a: trio_zmq.Socket
    b: trio_zmq.Socket
    endpoint: str
    fresh: str = field(default_factory=lambda: inproc_name("fresh"))
    spare: str = field(default_factory=lambda: inproc_name("spare"))
    pending: str = field(default_factory=lambda: inproc_name("pending"))
    monitor_at: str = field(default_factory=lambda: inproc_name("monitor"))
    listener: trio_zmq.Socket | None = None


def stage(ctx: trio_zmq.Context, kinds: tuple[int, int], **options: Any) -> Stage:
    a, b = pair(ctx, *kinds, **options)
    endpoint = a.get_string(zmq.LAST_ENDPOINT)
    for sock in (a, b):
        sock.get(zmq.EVENTS)  # attaches the inproc pipe now, not at some later call
    return Stage(ctx, a, b, endpoint)


def is_free(ctx: trio_zmq.Context, endpoint: str) -> bool:
    """Whether nothing is bound at the inproc *endpoint* (a probe binds there)."""
    probe = ctx.socket(zmq.PAIR)
    try:
        probe.bind(endpoint)
    except zmq.ZMQError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        return False
    finally:
        probe.close()
    return True


def still_connected(t: Stage) -> bool:
    """Whether ``a`` still has its connection to ``t.pending`` (disconnecting it now)."""
    try:
        t.a.disconnect(t.pending)
    except zmq.ZMQError as exc:
        if exc.errno != errno.ENOENT:
            raise
        return False
    return True


def monitor_with_listener(t: Stage) -> None:
    t.a.monitor(t.monitor_at)
    t.listener = t.ctx.socket(zmq.PAIR)
    t.listener.connect(t.monitor_at)


def monitor_events(t: Stage) -> list[list[bytes]]:
    assert t.listener is not None
    return drain(t.listener)


def subscribe_and_forget_it(t: Stage) -> None:
    """Subscribe ``a``, and take the subscription the peer received."""
    t.a.subscribe(TOPIC)
    assert drain(t.b) == [[b"\x01" + TOPIC]]


# ----------------------------------------------------------------------
# What an operation changes, and what it does when it cannot go ahead


@dataclass(frozen=True)
class Effect:
    """What an operation changes, seen from outside the socket.

    ``observe(t)`` equals ``untouched(t)`` until the operation takes effect
    (it may be the last look: some observations change things). ``prepare``
    sets up what the operation would change, such as a message for a receive
    to take (``queued``: one that the operation can decode).
    """

    what: str
    observe: Callable[[Stage], object]
    untouched: Callable[[Stage], object]
    prepare: Callable[[Stage], object] | None = None
    queued: bytes = QUEUED


SENDS = Effect("the peer receives", lambda t: drain(t.b), lambda t: [])


def takes(queued: bytes) -> Effect:
    return Effect(
        "it takes the message queued for the socket",
        lambda t: drain(t.a),
        lambda t: [[queued]],
        prepare=lambda t: t.b.send_nowait(queued),
        queued=queued,
    )


def sets(option: int, *, was: object) -> Effect:
    return Effect(
        f"{zmq.SocketOption(option).name} changes", lambda t: t.a.get(option), lambda t: was
    )


SETS_HWM = Effect(
    "the high-water marks change", lambda t: (t.a.sndhwm, t.a.rcvhwm), lambda t: (HWM, HWM)
)
BINDS = Effect("the fresh endpoint is taken", lambda t: is_free(t.ctx, t.fresh), lambda t: True)
MOVES_LAST_ENDPOINT = Effect(
    "LAST_ENDPOINT changes", lambda t: t.a.get_string(zmq.LAST_ENDPOINT), lambda t: t.endpoint
)
UNBINDS = Effect("the spare endpoint is freed", lambda t: is_free(t.ctx, t.spare), lambda t: False)
DISCONNECTS = Effect("the pending connection is dropped", still_connected, lambda t: True)
MONITORS = Effect(
    "the monitor's endpoint is taken", lambda t: is_free(t.ctx, t.monitor_at), lambda t: True
)
STOPS_MONITOR = Effect("the monitor says it stopped", monitor_events, lambda t: [])
CLOSES = Effect("the socket is closed", lambda t: t.a.closed, lambda t: False)


class Outcome(enum.Enum):
    """What an operation does in a state where it cannot simply go ahead."""

    CLOSED = "raises trio.ClosedResourceError"
    BUSY = "raises trio.BusyResourceError"
    REFUSED = "raises RuntimeError before it has any effect"
    STOPS = "raises StopAsyncIteration"
    RETURNS = "returns at once"
    WAITS = "waits (for as long as it takes)"
    CANCELLED = "raises trio.Cancelled, and has no effect"
    CANCELLED_BUT_CLOSES = "raises trio.Cancelled, and has closed the socket all the same"


RAISES: dict[Outcome, type[BaseException]] = {
    Outcome.CLOSED: trio.ClosedResourceError,
    Outcome.BUSY: trio.BusyResourceError,
    Outcome.REFUSED: RuntimeError,
    Outcome.STOPS: StopAsyncIteration,
}


@dataclass(frozen=True)
class Op:
    """One row of the table: an operation of ``trio_zmq.Socket`` and its promises.

    Exactly one of ``call`` (synchronous) and ``acall`` (async) says how to
    do it on a :class:`Stage`; async sends and receives pass ``NOBLOCK``, so
    that only the first attempt counts. ``arrange`` gives ``a`` what the
    operation needs (something to unbind); ``effect`` is what it changes.
    ``wakes`` is false for the operations that close or lend the socket,
    which promise (a) leaves out. ``bugs`` marks, by promise (``"wakes"``,
    ``"closed"``, ``"lent"``, ``"elsewhere"``, ``"cancelled"``), a case where
    the library breaks the contract: a strict xfail that says how.
    """

    name: str
    call: Callable[[Stage], object] | None = None
    acall: Callable[[Stage], Awaitable[object]] | None = None
    how: str = ""
    kinds: tuple[int, int] = PAIRS
    arrange: Callable[[Stage], object] | None = None
    effect: Effect | None = None
    wakes: bool = True
    on_closed: Outcome = Outcome.CLOSED
    while_lent: Outcome = Outcome.BUSY
    elsewhere: Outcome = Outcome.REFUSED
    cancelled: Outcome = Outcome.CANCELLED
    bugs: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name} ({self.how})" if self.how else self.name


def write_linger(t: Stage) -> None:
    t.a.linger = 7


def write_hwm(t: Stage) -> None:
    t.a.hwm = 5


def write_subscribe(t: Stage) -> None:
    # An option whose name is a method, assigned as an attribute (as pyzmq allows).
    setattr(t.a, "subscribe", TOPIC)  # noqa: B010 - a type checker sees the method


def borrow(t: Stage) -> None:
    with t.a.lend("another test"):
        pass


def serialize(msg: bytes) -> list[bytes]:
    return [msg, b"more"]


def deserialize(frames: list[Any]) -> object:
    return frames


OPERATIONS: list[Op] = [
    # -- synchronous: endpoints
    Op("bind", lambda t: t.a.bind(t.fresh), effect=BINDS),
    Op(
        "bind_to_random_port",
        lambda t: t.a.bind_to_random_port("tcp://127.0.0.1"),
        effect=MOVES_LAST_ENDPOINT,
    ),
    Op("connect", lambda t: t.a.connect(t.fresh), effect=MOVES_LAST_ENDPOINT),
    Op(
        "unbind", lambda t: t.a.unbind(t.spare), arrange=lambda t: t.a.bind(t.spare), effect=UNBINDS
    ),
    Op(
        "disconnect",
        lambda t: t.a.disconnect(t.pending),
        arrange=lambda t: t.a.connect(t.pending),
        effect=DISCONNECTS,
    ),
    # -- synchronous: subscriptions (seen at the XPUB peer; EINVAL on the PAIR of (a))
    Op("subscribe", lambda t: t.a.subscribe(TOPIC), kinds=SUB_TO_XPUB, effect=SENDS),
    Op(
        "unsubscribe",
        lambda t: t.a.unsubscribe(TOPIC),
        kinds=SUB_TO_XPUB,
        arrange=subscribe_and_forget_it,
        effect=SENDS,
    ),
    # -- synchronous: options
    Op("set", lambda t: t.a.set(zmq.LINGER, 7), effect=sets(zmq.LINGER, was=LINGER)),
    Op("setsockopt", lambda t: t.a.setsockopt(zmq.LINGER, 7), effect=sets(zmq.LINGER, was=LINGER)),
    Op("get", lambda t: t.a.get(zmq.LINGER)),
    Op("getsockopt", lambda t: t.a.getsockopt(zmq.LINGER)),
    Op(
        "set_string",
        lambda t: t.a.set_string(zmq.ROUTING_ID, "id"),
        effect=sets(zmq.ROUTING_ID, was=b""),
    ),
    Op(
        "setsockopt_string",
        lambda t: t.a.setsockopt_string(zmq.ROUTING_ID, "id"),
        effect=sets(zmq.ROUTING_ID, was=b""),
    ),
    Op("get_string", lambda t: t.a.get_string(zmq.LAST_ENDPOINT)),
    Op("getsockopt_string", lambda t: t.a.getsockopt_string(zmq.LAST_ENDPOINT)),
    # Options as attributes: one family (see NOT_OPERATIONS); these rows stand for it.
    Op("linger", lambda t: t.a.linger, how="read"),
    Op("linger", write_linger, how="write", effect=sets(zmq.LINGER, was=LINGER)),
    Op("hwm", lambda t: t.a.hwm, how="read"),
    Op("hwm", write_hwm, how="write", effect=SETS_HWM),
    Op("subscribe", write_subscribe, how="attribute", kinds=SUB_TO_XPUB, effect=SENDS),
    Op("events", lambda t: t.a.events),
    # -- synchronous: the rest
    Op("fileno", lambda t: t.a.fileno()),
    Op("monitor", lambda t: t.a.monitor(t.monitor_at), effect=MONITORS),
    Op(
        "disable_monitor",
        lambda t: t.a.disable_monitor(),
        arrange=monitor_with_listener,
        effect=STOPS_MONITOR,
    ),
    # statistics() "does not touch libzmq, and works at any time, closed or lent".
    Op(
        "statistics",
        lambda t: t.a.statistics(),
        on_closed=Outcome.RETURNS,
        while_lent=Outcome.RETURNS,
    ),
    # Closing twice is fine; lend() refuses a closed socket (its docstring).
    Op("close", lambda t: t.a.close(), effect=CLOSES, wakes=False, on_closed=Outcome.RETURNS),
    Op("lend", borrow, wakes=False),
    # -- non-blocking twins
    Op("send_nowait", lambda t: t.a.send_nowait(OUT), effect=SENDS),
    Op("send_multipart_nowait", lambda t: t.a.send_multipart_nowait([OUT, OUT]), effect=SENDS),
    Op("recv_nowait", lambda t: t.a.recv_nowait(), effect=takes(QUEUED)),
    Op("recv_multipart_nowait", lambda t: t.a.recv_multipart_nowait(), effect=takes(QUEUED)),
    # -- async: sending
    Op("send", acall=lambda t: t.a.send(OUT, NOBLOCK), effect=SENDS),
    Op("send_multipart", acall=lambda t: t.a.send_multipart([OUT, OUT], NOBLOCK), effect=SENDS),
    Op("send_string", acall=lambda t: t.a.send_string("out", NOBLOCK), effect=SENDS),
    Op("send_json", acall=lambda t: t.a.send_json({"out": 1}, NOBLOCK), effect=SENDS),
    Op("send_pyobj", acall=lambda t: t.a.send_pyobj({"out": 1}, NOBLOCK), effect=SENDS),
    Op(
        "send_serialized",
        acall=lambda t: t.a.send_serialized(OUT, serialize, NOBLOCK),
        effect=SENDS,
    ),
    # -- async: receiving
    Op("recv", acall=lambda t: t.a.recv(NOBLOCK), effect=takes(QUEUED)),
    Op("recv_multipart", acall=lambda t: t.a.recv_multipart(NOBLOCK), effect=takes(QUEUED)),
    Op("recv_string", acall=lambda t: t.a.recv_string(NOBLOCK), effect=takes(QUEUED)),
    Op("recv_json", acall=lambda t: t.a.recv_json(NOBLOCK), effect=takes(QUEUED)),
    Op("recv_pyobj", acall=lambda t: t.a.recv_pyobj(NOBLOCK), effect=takes(PICKLED)),
    Op(
        "recv_serialized",
        acall=lambda t: t.a.recv_serialized(deserialize, NOBLOCK),
        effect=takes(QUEUED),
    ),
    # async for: one step; iteration ends when the socket is closed.
    Op("__anext__", acall=lambda t: anext(t.a), effect=takes(QUEUED), on_closed=Outcome.STOPS),
    # -- async: the rest
    Op("poll", acall=lambda t: t.a.poll(timeout=0)),
    # wait_closed: "return at once if it is" closed; it works while the socket is lent.
    Op(
        "wait_closed",
        acall=lambda t: t.a.wait_closed(),
        on_closed=Outcome.RETURNS,
        while_lent=Outcome.WAITS,
    ),
    # reclaim() of a socket that is not lent "returns after a checkpoint"; lent
    # without a recall, as here, it raises BusyResourceError.
    Op("reclaim", acall=lambda t: t.a.reclaim()),
    # aclose: "the socket is closed even if this call is cancelled".
    Op(
        "aclose",
        acall=lambda t: t.a.aclose(),
        effect=CLOSES,
        wakes=False,
        on_closed=Outcome.RETURNS,
        cancelled=Outcome.CANCELLED_BUT_CLOSES,
    ),
]

#: Public names of ``trio_zmq.Socket`` that are not operations on a socket.
#: Socket options as attributes (``sock.rcvhwm``, every name of
#: ``zmq.SocketOption`` in lower case, and ``hwm``) are one family, which
#: the ``linger`` and ``hwm`` rows stand for: each is a property over
#: ``get``/``set``. An option whose name is a method here (``subscribe``)
#: needs a row of its own.
NOT_OPERATIONS = {
    "closed": "state, readable in any state (SPEC): it touches nothing",
    "socket_type": "a constant, fixed when the socket was made",
    "underlying": "the raw zmq.Socket: what is done with it is the user's risk (SPEC)",
    "from_socket": "a constructor (a classmethod), not an operation on a socket",
}
OPTION_ATTRIBUTES = frozenset(name.lower() for name in zmq.SocketOption.__members__) | {"hwm"}


# ----------------------------------------------------------------------
# Doing an operation


async def cancel_once_all_blocked(scope: trio.CancelScope) -> None:
    await trio.testing.wait_all_tasks_blocked()
    scope.cancel()


async def perform(op: Op, t: Stage) -> bool:
    """Do *op* once; whether it finished, rather than waiting.

    An async operation runs in the calling task, so that it reaches libzmq
    before any other task can run. If it has to wait, it is cancelled once
    every other task is blocked too. Its exceptions come out as they are
    (not in an ExceptionGroup).
    """
    if op.acall is None:
        assert op.call is not None
        op.call(t)
        return True
    error: Exception | None = None
    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as waiting:
            nursery.start_soon(cancel_once_all_blocked, waiting)
            try:
                await op.acall(t)
            except Exception as exc:  # raised below, outside the nursery
                error = exc
        nursery.cancel_scope.cancel()
    if error is not None:
        raise error
    return not waiting.cancelled_caught


async def check(outcome: Outcome, op: Op, t: Stage) -> None:
    """Do *op* and check that it did what *outcome* says."""
    if outcome is Outcome.WAITS:
        assert not await perform(op, t), f"{op.id} returned instead of waiting"
    elif outcome is Outcome.RETURNS:
        assert await perform(op, t), f"{op.id} waited"
    else:
        with pytest.raises(RAISES[outcome]):
            await perform(op, t)


def prepared(op: Op, t: Stage) -> Stage:
    """*t*, arranged for *op* and with its effect prepared."""
    if op.arrange is not None:
        op.arrange(t)
    if op.effect is not None and op.effect.prepare is not None:
        op.effect.prepare(t)
    return t


def assert_no_effect(op: Op, t: Stage) -> None:
    if op.effect is not None:
        assert op.effect.observe(t) == op.effect.untouched(t), f"{op.id}: {op.effect.what}"


def known_bug(op: Op, promise: str) -> list[pytest.MarkDecorator]:
    """A strict xfail where *op* breaks *promise*, saying how; none where it keeps it."""
    if promise not in op.bugs:
        return []
    return [pytest.mark.xfail(strict=True, reason=op.bugs[promise])]


def rows(promise: str, applies: Callable[[Op], bool] = lambda op: True) -> list[ParameterSet]:
    """The rows *promise* applies to."""
    return [
        pytest.param(op, id=op.id, marks=known_bug(op, promise)) for op in OPERATIONS if applies(op)
    ]


# ----------------------------------------------------------------------
# (a) No operation strands a task asleep on the socket


class News(enum.Enum):
    """What libzmq's pending command for ``a`` tells a sleeper."""

    ROOM = "room frees"  # the peer drained a's full pipe: "activate write"
    MESSAGE = "a message arrives"  # the peer sent: "activate read"


def bring(news: News, t: Stage, message: bytes) -> None:
    """Make libzmq queue a command for ``a`` that carries *news*."""
    if news is News.ROOM:
        assert drain(t.b)  # room for two: one for a sending operation, one for the sleeper
    else:
        t.b.send_nowait(message)  # two: one for a receiving operation, one for the sleeper
        t.b.send_nowait(message)


@pytest.mark.parametrize("watcher", ["sender", "receiver"], ids=lambda w: f"the {w} watches")
@pytest.mark.parametrize("news", list(News), ids=lambda news: news.value)
@pytest.mark.parametrize("op", rows("wakes", lambda op: op.wakes))
async def test_no_operation_strands_a_task_asleep_on_the_socket(
    ctx: trio_zmq.Context, op: Op, news: News, watcher: str
) -> None:
    t = stage(ctx, PAIRS, **SMALL)
    if op.arrange is not None and op.kinds == PAIRS:  # a SUB's rows fail on a PAIR: fine
        op.arrange(t)
    fill(t.a)
    sent, received = trio.Event(), trio.Event()

    async def sender() -> None:
        await t.a.send(b"sleeper")
        sent.set()

    async def receiver() -> None:
        await t.a.recv()
        received.set()

    sleepers = [sender, receiver] if watcher == "sender" else [receiver, sender]
    async with trio.open_nursery() as nursery:
        for sleeper in sleepers:  # the first watches the FD, the second parks
            nursery.start_soon(sleeper)
            await trio.testing.wait_all_tasks_blocked()
        asleep = t.a.statistics()
        assert (asleep.tasks_waiting_send, asleep.tasks_waiting_receive) == (1, 1)
        bring(news, t, op.effect.queued if op.effect else QUEUED)
        time.sleep(THROTTLE_S)  # blocking: nothing may run before the operation
        # Its own refusal (would block, EINVAL) is not what this test is about.
        with contextlib.suppress(trio.WouldBlock, zmq.ZMQError):
            await perform(op, t)
        with trio.fail_after(PROGRESS_S):
            await (sent if news is News.ROOM else received).wait()
        nursery.cancel_scope.cancel()


# ----------------------------------------------------------------------
# (b) Closed, (c) lent, (d) elsewhere, (e) cancelled


@pytest.mark.parametrize("op", rows("closed"))
async def test_on_a_closed_socket_an_operation_raises_closed_resource_error_or_as_documented(
    ctx: trio_zmq.Context, op: Op
) -> None:
    t = prepared(op, stage(ctx, op.kinds))
    t.a.close()
    await check(op.on_closed, op, t)


@pytest.mark.parametrize("op", rows("lent"))
async def test_on_a_lent_socket_an_operation_raises_busy_resource_error_and_changes_nothing(
    ctx: trio_zmq.Context, op: Op
) -> None:
    t = prepared(op, stage(ctx, op.kinds))
    with t.a.lend("a test"):
        await check(op.while_lent, op, t)
    assert_no_effect(op, t)


def in_a_worker_thread(op: Op, t: Stage) -> None:
    assert op.call is not None
    op.call(t)


def in_another_run(op: Op, t: Stage) -> None:
    trio.run(perform, op, t)


ELSEWHERE: dict[str, tuple[Callable[[Op, Stage], None], str]] = {
    "from a worker thread": (in_a_worker_thread, "from another thread"),
    "from another trio.run": (in_another_run, "from another trio.run"),
}


def rows_elsewhere() -> list[ParameterSet]:
    """Every row from another run; the synchronous ones from a plain worker thread too."""
    return [
        pytest.param(op, where, id=f"{op.id}-{where}", marks=known_bug(op, "elsewhere"))
        for where in ELSEWHERE
        for op in OPERATIONS
        if op.call is not None or where == "from another trio.run"
    ]


@pytest.mark.parametrize(("op", "where"), rows_elsewhere())
async def test_from_another_thread_an_operation_is_refused_before_it_has_any_effect(
    ctx: trio_zmq.Context, op: Op, where: str
) -> None:
    t = prepared(op, stage(ctx, op.kinds))
    attempt, says = ELSEWHERE[where]
    if op.elsewhere is Outcome.RETURNS:
        await trio.to_thread.run_sync(attempt, op, t)
    else:
        with pytest.raises(RuntimeError, match=says):
            await trio.to_thread.run_sync(attempt, op, t)
    assert_no_effect(op, t)


@pytest.mark.parametrize("op", rows("cancelled", lambda op: op.acall is not None))
async def test_in_a_cancelled_scope_an_async_operation_raises_cancelled_and_has_no_effect(
    ctx: trio_zmq.Context, op: Op
) -> None:
    t = prepared(op, stage(ctx, op.kinds))
    assert op.acall is not None
    with trio.CancelScope() as scope:
        scope.cancel()
        await op.acall(t)
        pytest.fail(f"{op.id} returned in a cancelled scope")
    assert scope.cancelled_caught
    if op.cancelled is Outcome.CANCELLED_BUT_CLOSES:
        assert t.a.closed
    else:
        assert_no_effect(op, t)


# ----------------------------------------------------------------------
# The table itself


@pytest.mark.parametrize("op", rows("effect", lambda op: op.effect is not None))
async def test_the_effect_a_row_is_checked_for_shows_when_the_operation_runs(
    ctx: trio_zmq.Context, op: Op
) -> None:
    t = prepared(op, stage(ctx, op.kinds))
    assert await perform(op, t)
    assert op.effect is not None
    assert op.effect.observe(t) != op.effect.untouched(t), f"{op.id}: {op.effect.what}"


def test_every_public_name_of_socket_has_a_row_or_is_named_a_non_operation() -> None:
    public = {name for name in dir(trio_zmq.Socket) if not name.startswith("_")} | {"__anext__"}
    options = {
        name
        for name in public & OPTION_ATTRIBUTES
        if isinstance(inspect.getattr_static(trio_zmq.Socket, name), property)
    }
    with_rows = {op.name for op in OPERATIONS}
    assert sorted(public - with_rows - NOT_OPERATIONS.keys() - options) == []
    assert sorted(with_rows - public) == []  # no row for a name that is gone
    assert sorted(NOT_OPERATIONS.keys() - public) == []
    assert {"linger", "hwm"} <= with_rows  # the option family has its rows
