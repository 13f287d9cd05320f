"""``trio_zmq.testing``: wait_subscribed, and the pytest plugin (run as a user's project runs it)."""

from __future__ import annotations

import importlib.metadata
import os
import textwrap

import pytest
import trio
import trio.testing
import zmq

import trio_zmq
from trio_zmq.testing import PROBE_MARK, wait_subscribed
from trio_zmq.testing._endpoints import IPC_PATH_MAX, Endpoints

from .helpers import pair

TRANSPORTS = ["inproc", "ipc", "tcp"]
KINDS = [
    pytest.param(zmq.PUB, zmq.SUB, id="PUB-SUB"),
    pytest.param(zmq.XPUB, zmq.XSUB, id="XPUB-XSUB"),
]


async def _subscribe(sub: trio_zmq.Socket, topic: bytes) -> None:
    if sub.socket_type == zmq.SUB:
        sub.subscribe(topic)
    else:
        await sub.send(b"\x01" + topic)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("pub_type", "sub_type"), KINDS)
async def test_after_wait_subscribed_the_next_receive_is_the_first_real_message(
    ctx: trio_zmq.Context, transport: str, pub_type: int, sub_type: int
) -> None:
    pub, sub = pair(ctx, pub_type, sub_type, transport)
    await _subscribe(sub, b"news")
    await wait_subscribed(pub, sub, b"news")
    for i in range(3):
        await pub.send(b"news %d" % i)
    # Probes on one connection come before what follows them: had one been
    # left in flight, it would arrive first.
    assert [await sub.recv() for _ in range(3)] == [b"news 0", b"news 1", b"news 2"]
    with pytest.raises(trio.WouldBlock):
        sub.recv_nowait()


async def test_a_topic_filter_passes_the_probes_and_nothing_else(ctx: trio_zmq.Context) -> None:
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)
    sub.subscribe(b"a")
    await wait_subscribed(pub, sub, b"a")
    await pub.send(b"b: filtered out")
    await pub.send(b"a: through")
    assert await sub.recv() == b"a: through"


async def test_probes_say_what_they_are(ctx: trio_zmq.Context) -> None:
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)
    sub.subscribe(b"")
    seen: list[bytes] = []
    async with trio.open_nursery() as nursery:

        async def spy() -> None:  # a second subscriber sees the probes
            spy_sub = ctx.socket(zmq.SUB, subscribe=b"")
            spy_sub.connect(pub.get_string(zmq.LAST_ENDPOINT))
            await wait_subscribed(pub, spy_sub)
            ready.set()
            seen.append(await spy_sub.recv())

        ready = trio.Event()
        nursery.start_soon(spy)
        await ready.wait()
        await wait_subscribed(pub, sub)
    assert seen[0].startswith(PROBE_MARK)


async def test_cancelling_wait_subscribed_leaves_nothing_behind(ctx: trio_zmq.Context) -> None:
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)  # never subscribed: no probe can arrive
    with trio.move_on_after(0.05) as scope:
        await wait_subscribed(pub, sub)
    assert scope.cancelled_caught
    for sock in (pub, sub):
        assert sock.statistics() == trio_zmq.SocketStatistics(0, 0, None, None, False)
    # Both sockets work on as before.
    sub.subscribe(b"")
    await wait_subscribed(pub, sub)
    await pub.send(b"after")
    assert await sub.recv() == b"after"


async def test_a_message_that_is_not_a_probe_is_reported(ctx: trio_zmq.Context) -> None:
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)
    sub.subscribe(b"")
    await wait_subscribed(pub, sub)
    await pub.send(b"someone else's")
    with pytest.raises(RuntimeError, match="not its probe .*someone else's"):
        await wait_subscribed(pub, sub)


async def test_wait_subscribed_refuses_what_it_cannot_prove(ctx: trio_zmq.Context) -> None:
    pub, sub = pair(ctx, zmq.PUB, zmq.SUB)
    with pytest.raises(TypeError, match="PUB or XPUB socket, then a SUB or XSUB"):
        await wait_subscribed(sub, pub)
    with pytest.raises(TypeError, match="topic as bytes"):
        await wait_subscribed(pub, sub, "text")  # type: ignore[arg-type]


def test_endpoints_are_fresh_short_and_cleaned_up() -> None:
    endpoints = Endpoints()
    assert endpoints("tcp") == "tcp://127.0.0.1:*"
    assert endpoints("inproc") != endpoints("inproc")
    ipc = endpoints("ipc")
    path = ipc.removeprefix("ipc://")
    assert len(os.fsencode(path)) <= IPC_PATH_MAX
    directory = os.path.dirname(path)
    assert os.path.isdir(directory)
    endpoints.close()
    assert not os.path.exists(directory)
    with pytest.raises(ValueError, match="use 'tcp', 'ipc' or 'inproc'"):
        endpoints("udp")  # type: ignore[arg-type]


def test_the_plugin_is_registered_by_its_entry_point() -> None:
    plugins = importlib.metadata.entry_points(group="pytest11")
    assert "trio_zmq.testing._plugin" in {ep.value for ep in plugins if ep.name == "trio_zmq"}


USER_TESTS = """
import pytest
import trio
import zmq

import trio_zmq


{mark}
async def test_a_pair_over_each_transport(zmq_pair):
    for transport in ("inproc", "ipc", "tcp"):
        a, b = await zmq_pair(zmq.PAIR, zmq.PAIR, transport)
        await a.send(b"ping")
        assert await b.recv() == b"ping"
        assert (a.linger, b.linger) == (0, 0)


{mark}
async def test_linger_as_the_caller_says(zmq_pair):
    a, b = await zmq_pair(zmq.PUSH, zmq.PULL, linger=250)
    assert (a.linger, b.linger) == (250, 250)


{mark}
async def test_a_subscriber_gets_the_first_message(zmq_pair):
    pub, sub = await zmq_pair(zmq.PUB, zmq.SUB, "tcp", subscribe=b"news")
    await pub.send(b"news: first")
    assert await sub.recv() == b"news: first"
    sub2, pub2 = await zmq_pair(zmq.XSUB, zmq.XPUB)
    await pub2.send(b"first")
    assert await sub2.recv() == b"first"


{mark}
async def test_the_context_and_endpoints(zmq_context, zmq_endpoint):
    assert isinstance(zmq_context, trio_zmq.Context)
    assert zmq_endpoint("ipc").startswith("ipc://")
    async with zmq_context.socket(zmq.PAIR) as sock:
        sock.bind(zmq_endpoint())
"""


@pytest.mark.parametrize("style", ["trio_mode", "mark"])
def test_a_users_project_gets_the_fixtures(pytester: pytest.Pytester, style: str) -> None:
    if style == "trio_mode":
        pytester.makeini("[pytest]\ntrio_mode = true\n")
        pytester.makepyfile(test_user=USER_TESTS.format(mark=""))
    else:
        pytester.makepyfile(test_user=USER_TESTS.format(mark="@pytest.mark.trio"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_plugin_adds_fixtures_and_nothing_else(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain=textwrap.dedent(
            """
            def test_plain():
                assert True
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    result.stdout.fnmatch_lines(["*zmq_context*", "*zmq_endpoint*", "*zmq_pair*"])
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    plain.assert_outcomes(passed=1)
