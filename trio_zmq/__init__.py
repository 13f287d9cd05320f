"""ZeroMQ for Trio: pyzmq's sockets with Trio's guarantees.

Every async call is a cancel point; a cancelled send or receive had no
effect; any number of tasks may share a socket; closing a socket wakes every
task waiting on it with ``trio.ClosedResourceError``.
"""

from __future__ import annotations

# One import line per private module; public names are listed in __all__.
from . import auth, testing
from ._channels import open_channels
from ._checkpoints import SCHEDULE_INTERVAL, set_strict_checkpoints, strict_checkpoints_enabled
from ._context import DEFAULT_LINGER, Context
from ._monitor import MonitorEvent, MonitorEvents, open_monitor
from ._poll import Poller
from ._proxy import (
    ProxyControl,
    ProxySideStatistics,
    ProxyStatistics,
    device,
    proxy,
    steerable_proxy,
)
from ._socket import Socket, SocketStatistics

__all__ = [
    "DEFAULT_LINGER",
    "SCHEDULE_INTERVAL",
    "Context",
    "MonitorEvent",
    "MonitorEvents",
    "Poller",
    "ProxyControl",
    "ProxySideStatistics",
    "ProxyStatistics",
    "Socket",
    "SocketStatistics",
    "auth",
    "device",
    "open_channels",
    "open_monitor",
    "proxy",
    "set_strict_checkpoints",
    "steerable_proxy",
    "strict_checkpoints_enabled",
    "testing",
]

__version__ = "0.3.0"

# Public names show as trio_zmq.X, not trio_zmq._module.X (as Trio does).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("trio_zmq._"):
        _obj.__module__ = "trio_zmq"
del _name, _obj
