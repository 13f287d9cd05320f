"""The pytest plugin: ``zmq_context``, ``zmq_endpoint`` and ``zmq_pair`` for Trio tests.

pytest loads it through the package's ``pytest11`` entry point, named
``trio_zmq``; it defines fixtures and does nothing else. The async fixtures
run in the test's Trio run, so a test uses them under pytest-trio's
``trio_mode`` or with ``@pytest.mark.trio``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import zmq

import trio_zmq

from ._endpoints import Endpoints, Transport
from ._subscribed import wait_subscribed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from ._plugin_types import PairMaker

__all__ = ["zmq_context", "zmq_endpoint", "zmq_pair"]

_PUBLISHERS = frozenset({int(zmq.PUB), int(zmq.XPUB)})
_SUBSCRIBERS = frozenset({int(zmq.SUB), int(zmq.XSUB)})


@pytest.fixture
async def zmq_context() -> AsyncIterator[trio_zmq.Context]:
    """A ``trio_zmq.Context`` for the test, closed after it (its sockets with it).

    Its sockets linger 0 ms unless told otherwise, so that closing it after
    a test never waits for messages nobody will receive.
    """
    async with trio_zmq.Context(linger=0) as context:
        yield context


@pytest.fixture
def zmq_endpoint() -> Iterator[Endpoints]:
    """``zmq_endpoint(transport="inproc")``: a fresh endpoint of that transport.

    ``"tcp"`` gives ``tcp://127.0.0.1:*`` (bind it and use the endpoint that
    ``bind`` returns), ``"ipc"`` a short path that libzmq accepts, removed
    after the test, and ``"inproc"`` a name no other test uses.
    """
    endpoints = Endpoints()
    try:
        yield endpoints
    finally:
        endpoints.close()


@pytest.fixture
async def zmq_pair(zmq_context: trio_zmq.Context, zmq_endpoint: Endpoints) -> PairMaker:
    """``await zmq_pair(bind_type, connect_type, transport="inproc", **options)``.

    Returns ``(bound, connected)``: two sockets of ``zmq_context``, the
    first bound to a fresh endpoint of *transport*, the second connected to
    it, both made with *options* (socket options by lower-case name, as
    ``Context.socket`` takes them) and ``linger=0`` unless *options* say
    otherwise. For a publisher (PUB, XPUB) and a subscriber (SUB, XSUB), in
    either order, the subscriber subscribes to ``options["subscribe"]``
    (all messages by default), and the subscription is proven to have
    arrived (:func:`trio_zmq.testing.wait_subscribed`) before the call
    returns: no slow joiner.
    """

    async def make(
        bind_type: int, connect_type: int, transport: Transport = "inproc", **options: Any
    ) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
        topic = options.pop("subscribe", b"")
        if isinstance(topic, str):
            topic = topic.encode()
        options.setdefault("linger", 0)
        bound = zmq_context.socket(bind_type, **options)
        connected = zmq_context.socket(connect_type, **options)
        connected.connect(bound.bind(zmq_endpoint(transport)))
        kinds = (int(bind_type), int(connect_type))
        if kinds[0] in _PUBLISHERS and kinds[1] in _SUBSCRIBERS:
            pub, sub = bound, connected
        elif kinds[0] in _SUBSCRIBERS and kinds[1] in _PUBLISHERS:
            pub, sub = connected, bound
        else:
            return bound, connected
        if sub.socket_type == zmq.SUB:
            sub.subscribe(topic)
        else:  # an XSUB subscribes by sending a message
            await sub.send(b"\x01" + topic)
        await wait_subscribed(pub, sub, topic)
        return bound, connected

    return make
