"""Fresh endpoints for tests, on every transport, wherever the test runs.

An ipc endpoint is a path, and libzmq refuses one longer than 107 bytes
(the size of ``sockaddr_un.sun_path``). pytest's ``tmp_path`` lies under
``TMPDIR``, which tools such as nox point into the project's checkout, so
an ipc file there fails from a checkout at an ordinary but longer path.
:class:`Endpoints` therefore makes its ipc files in a directory of its own
under ``/tmp`` when that is a writable directory (else the system's
temporary directory), and removes it, with everything in it, when closed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from typing import Literal, TypeAlias, final

__all__ = ["IPC_PATH_MAX", "Endpoints", "Transport"]

#: The transports of the plugin's endpoints and pairs.
Transport: TypeAlias = Literal["tcp", "ipc", "inproc"]

#: The longest ipc path libzmq accepts, in bytes.
IPC_PATH_MAX = 107
_SHORT_ROOT = "/tmp"
_names = itertools.count()


def _short_root() -> str:
    if os.path.isdir(_SHORT_ROOT) and os.access(_SHORT_ROOT, os.W_OK | os.X_OK):
        return _SHORT_ROOT
    return tempfile.gettempdir()


@final
class Endpoints:
    """Makes endpoints no other test uses; :meth:`close` removes its ipc files."""

    def __init__(self) -> None:
        self._directory: str | None = None

    def __call__(self, transport: Transport = "inproc") -> str:
        """A fresh endpoint: ``tcp://127.0.0.1:*`` (bind it, and use what ``bind``
        returns), an ipc path libzmq accepts, or an inproc name.

        Raises:
            ValueError: an unknown transport, or no short enough directory
                for an ipc path.
        """
        number = next(_names)
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        if transport == "inproc":
            return f"inproc://trio-zmq-test-{os.getpid()}-{number}"
        if transport == "ipc":
            if self._directory is None:
                self._directory = tempfile.mkdtemp(prefix="tz-", dir=_short_root())
            path = os.path.join(self._directory, str(number))
            if len(os.fsencode(path)) > IPC_PATH_MAX:
                raise ValueError(
                    f"no ipc path libzmq accepts ({IPC_PATH_MAX} bytes at most): {path!r}; "
                    "make /tmp writable, or set TMPDIR to a short directory"
                )
            return f"ipc://{path}"
        raise ValueError(f"unknown transport {transport!r}: use 'tcp', 'ipc' or 'inproc'")

    def close(self) -> None:
        """Remove the directory of the ipc endpoints made, if any."""
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
