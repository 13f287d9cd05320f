"""The checkpoint policy: how often a call that completes at once yields.

Trio's rule is that every async primitive is both a cancel point and a
schedule point. A full schedule point costs several times what sending a
small message costs (``docs/performance.md`` has the figures), so yielding
on every call would cap small-message throughput far below blocking pyzmq.
trio_zmq therefore makes one documented exception, in this module only:

* every async call is a **cancel point**, always (the decision of
  ``checkpoint_if_cancelled``, made before it does anything; see ``_runs.py``);
* a call that has to wait is a schedule point, because waiting is;
* a call that completes at once is a **schedule point at least once every**
  :data:`SCHEDULE_INTERVAL` (64) such calls in a row. The count is kept
  per Trio run (``RunLife`` in ``_runs.py`` holds it): a task that never
  yields keeps every other task of its run from running, so while it runs
  the count is its own, and calls in other threads' runs cannot touch it.
  (One count for the whole process let a task make hundreds of calls in a
  row while another thread's run spent the count; ``tests/test_checkpoints.py``
  runs two threads to hold this.)

:func:`set_strict_checkpoints` switches to Trio's strict rule: every call
that completes at once is also a full schedule point. The environment
variable ``TRIO_ZMQ_STRICT_CHECKPOINTS=1`` sets the same at import time.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "SCHEDULE_INTERVAL",
    "Counted",
    "count",
    "set_strict_checkpoints",
    "strict_checkpoints_enabled",
]

#: A call that completes at once yields to the scheduler at least once every
#: this many such calls in a row (unless strict checkpoints are on).
SCHEDULE_INTERVAL = 64


def _ticks(interval: int) -> Iterator[bool]:
    """``False``, ``False``, ..., ``True`` (the *interval*-th), and round again."""
    return itertools.cycle((False,) * (interval - 1) + (True,))


_STRICT_AT_START = os.environ.get("TRIO_ZMQ_STRICT_CHECKPOINTS", "") not in ("", "0")
_interval = 1 if _STRICT_AT_START else SCHEDULE_INTERVAL


class Counted(Protocol):
    """What keeps one run's count: its ``ticks`` yield one item for each call
    that completed at once, ``True`` when that call must yield. The hot paths
    read it as ``next(life.ticks)``: as fast as counting inline, and the policy
    stays here."""

    ticks: Iterator[bool]


_counted: weakref.WeakSet[Counted] = weakref.WeakSet()
_counted_lock = threading.Lock()  # runs in other threads add to it


def count(holder: Counted) -> None:
    """Give *holder* (one run's life) a count of its own, kept in step with the switch."""
    with _counted_lock:
        holder.ticks = _ticks(_interval)
        _counted.add(holder)


def set_strict_checkpoints(enabled: bool = True) -> None:
    """Make every call that completes at once a full schedule point, or stop.

    By default a send or receive that completes without waiting yields to the
    scheduler only once every :data:`SCHEDULE_INTERVAL` calls in a row (it is
    always a cancel point). With strict checkpoints on, every such call
    yields, as Trio's own primitives do, at several microseconds a call.

    The switch is process-wide and takes effect at once.
    """
    global _interval  # the process-wide policy, swapped whole
    with _counted_lock:
        _interval = 1 if enabled else SCHEDULE_INTERVAL
        for holder in list(_counted):
            holder.ticks = _ticks(_interval)


def strict_checkpoints_enabled() -> bool:
    """Whether every immediate call is a full schedule point."""
    return _interval == 1
