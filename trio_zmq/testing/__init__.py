"""Test your own ZeroMQ services: helpers, and a pytest plugin (fixtures).

``wait_subscribed`` waits out the slow joiner, and ``open_link`` puts a
network cable between two peers that the test controls. The pytest plugin
(``zmq_context``, ``zmq_endpoint``, ``zmq_pair``) is loaded by pytest
through the package's entry point; nothing here needs pytest.
"""

from __future__ import annotations

from ._endpoints import Endpoints, Transport
from ._link import Link, LinkStatistics, open_link
from ._plugin_types import PairMaker
from ._subscribed import PROBE_MARK, wait_subscribed

__all__ = [
    "PROBE_MARK",
    "Endpoints",
    "Link",
    "LinkStatistics",
    "PairMaker",
    "Transport",
    "open_link",
    "wait_subscribed",
]

# Public names show as trio_zmq.testing.X (as trio_zmq's own do).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("trio_zmq.testing._"):
        _obj.__module__ = "trio_zmq.testing"
del _name, _obj
