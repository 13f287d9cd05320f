"""The checkpoint policy: how often a call that completes at once yields.

Trio's rule is that every async primitive is both a cancel point and a
schedule point. A full schedule point costs about 10 µs on the machines this
project is measured on, several times what sending a small message costs, so
yielding on every call would cap small-message throughput far below blocking
pyzmq. trio_zmq therefore makes one documented exception, in this module
only:

* every async call is a **cancel point**, always (``checkpoint_if_cancelled``
  before it does anything);
* a call that has to wait is a schedule point, because waiting is;
* a call that completes at once is a **schedule point at least once every**
  :data:`SCHEDULE_INTERVAL` (64) such calls in a row, counted per thread. A
  task that never yields keeps every other task of its run from running, so
  the count it sees is its own.

:func:`set_strict_checkpoints` switches to Trio's strict rule: every call
that completes at once is also a full schedule point. The environment
variable ``TRIO_ZMQ_STRICT_CHECKPOINTS=1`` sets the same at import time.
"""

from __future__ import annotations

import os
import threading

__all__ = ["SCHEDULE_INTERVAL", "set_strict_checkpoints", "strict_checkpoints_enabled"]

#: A call that completes at once yields to the scheduler at least once every
#: this many such calls in a row (unless strict checkpoints are on).
SCHEDULE_INTERVAL = 64


class _Budget(threading.local):
    """How many immediate completions may still pass before one must yield."""

    remaining: int
    interval: int

    def __init__(self) -> None:
        self.interval = 1 if _strict else SCHEDULE_INTERVAL
        self.remaining = self.interval


_strict = os.environ.get("TRIO_ZMQ_STRICT_CHECKPOINTS", "") not in ("", "0")
budget = _Budget()


def set_strict_checkpoints(enabled: bool = True) -> None:
    """Make every call that completes at once a full schedule point, or stop.

    By default a send or receive that completes without waiting yields to the
    scheduler only once every :data:`SCHEDULE_INTERVAL` calls in a row (it is
    always a cancel point). With strict checkpoints on, every such call
    yields, as Trio's own primitives do, at several microseconds a call.

    The switch is process-wide: it takes effect at once in the calling
    thread, and in other threads after their next schedule point.
    """
    global _strict
    _strict = bool(enabled)
    # The budget is per thread; make the current thread's follow at once and
    # other threads' on their next refill (see ``refill``).
    budget.interval = 1 if _strict else SCHEDULE_INTERVAL
    budget.remaining = min(budget.remaining, budget.interval)


def strict_checkpoints_enabled() -> bool:
    """Whether every immediate call is a full schedule point."""
    return _strict


def refill() -> None:
    """Start a new run of immediate calls (called after each schedule point)."""
    budget.interval = 1 if _strict else SCHEDULE_INTERVAL
    budget.remaining = budget.interval
