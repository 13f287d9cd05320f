"""The side-by-side benchmark: ``trio-zmq bench`` and ``nox -s bench``.

Every contender runs the same workloads in fresh processes, both ends the
same contender, each process pinned to its own core where the machine allows.
Contenders are interleaved round by round so that a noisy neighbour hurts
them all alike, and every figure is reported as the median of the rounds,
with the minimum and maximum, and as ratios to blocking pyzmq and to the
Trio floor measured in the same run.

The parts, in the order a run uses them:

* ``workloads.py``: what is measured, by which contenders, against which floor;
* ``workers.py``: the programs the contenders run, each in a process of its
  own; trio_zmq, ``zmq.asyncio``, zmq-anyio and the floor run one async
  program, parameterised by the library;
* ``floor.py``: the Trio floor, the loop any Trio user could write;
* ``runner.py``: the processes, round by round;
* ``report.py`` and ``plot.py``: the table, the goals, and the chart;
* ``command.py``: the command line.
"""

from __future__ import annotations

from .command import add_arguments, main, run_from_arguments

__all__ = ["add_arguments", "main", "run_from_arguments"]
