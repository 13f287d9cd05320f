"""Short ipc endpoints for the demo and the benchmark, wherever ``TMPDIR`` lies.

libzmq refuses an ipc path longer than 107 bytes, and the temporary
directory can be deep (nox puts it inside the checkout). On Linux the
endpoints live in the abstract namespace, with no file at all; elsewhere in
a fresh directory under ``/tmp`` (or the temporary directory, if ``/tmp``
is not writable), removed afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["ipc_space"]

_spaces = itertools.count()
#: Linux's abstract socket namespace: names, not files.
_ABSTRACT: bool = sys.platform.startswith("linux")


@contextlib.contextmanager
def ipc_space(tag: str) -> Iterator[Callable[[str], str]]:
    """Yield a function that turns a short name into an ipc endpoint of its own."""
    if _ABSTRACT:
        prefix = f"ipc://@trio-zmq-{tag}-{os.getpid()}-{next(_spaces)}-"
        yield lambda name: prefix + name
        return
    root = "/tmp" if os.access("/tmp", os.W_OK | os.X_OK) else None
    with tempfile.TemporaryDirectory(prefix=f"tz-{tag}-", dir=root) as directory:
        yield lambda name: "ipc://" + os.path.join(directory, name)
