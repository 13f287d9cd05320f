"""Write the intersphinx inventories of Python, Trio and pyzmq that the docs link to.

The documentation build reaches no network, so it cannot fetch the
``objects.inv`` of docs.python.org, trio.readthedocs.io and
pyzmq.readthedocs.io. This script writes stand-ins into
``docs/_inventories/``, made from the objects of the installed packages
(modules, classes, exceptions, functions and methods: what a page of these
docs names) and from the URL patterns of each project's documentation, such
as ``https://trio.readthedocs.io/en/stable/reference-core.html#trio.Cancelled``.

Refresh them after upgrading Trio or pyzmq, or to link a new standard
library module (add it to ``STDLIB``)::

    python docs/make_inventories.py

It needs ``sphobjinv``, and imports ``trio`` and ``zmq``: run it where the
docs build runs (``nox -s docs`` installs both). The files it writes are
kept in the repository, and the build reads them from there.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import types
from pathlib import Path
from typing import TYPE_CHECKING

import sphobjinv as soi

if TYPE_CHECKING:
    from collections.abc import Iterator

OUT = Path(__file__).resolve().parent / "_inventories"

#: The standard library modules the docs name, beside the builtins.
STDLIB = [
    "asyncio",
    "collections.abc",
    "contextlib",
    "dataclasses",
    "enum",
    "ipaddress",
    "json",
    "logging",
    "os",
    "pathlib",
    "pickle",
    "socket",
    "subprocess",
    "threading",
    "types",
    "typing",
    "warnings",
]

#: asyncio's documentation spreads over pages of its own.
ASYNCIO_PAGES = {
    "asyncio-runner": {"run", "Runner"},
    "asyncio-task": {
        "create_task",
        "gather",
        "shield",
        "sleep",
        "timeout",
        "timeout_at",
        "Timeout",
        "wait",
        "wait_for",
        "as_completed",
        "current_task",
        "all_tasks",
        "Task",
        "TaskGroup",
        "run_coroutine_threadsafe",
        "to_thread",
    },
    "asyncio-exceptions": {
        "CancelledError",
        "TimeoutError",
        "InvalidStateError",
        "IncompleteReadError",
        "LimitOverrunError",
        "SendfileNotAvailableError",
        "BrokenBarrierError",
    },
    "asyncio-future": {"Future", "ensure_future", "isfuture", "wrap_future"},
    "asyncio-sync": {"Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier"},
    "asyncio-queue": {"Queue", "PriorityQueue", "LifoQueue", "QueueEmpty", "QueueFull"},
    "asyncio-eventloop": {
        "get_event_loop",
        "get_running_loop",
        "new_event_loop",
        "set_event_loop",
        "AbstractEventLoop",
        "Handle",
        "TimerHandle",
    },
}

#: Trio's reference pages, by module; names of ``trio`` itself default to
#: reference-core, and these are on reference-io.
TRIO_PAGES = {
    "trio.lowlevel": "reference-lowlevel",
    "trio.testing": "reference-testing",
    "trio.socket": "reference-io",
    "trio.abc": "reference-io",
    "trio.from_thread": "reference-core",
    "trio.to_thread": "reference-core",
}
TRIO_IO = {
    "SocketStream",
    "SocketListener",
    "SSLStream",
    "SSLListener",
    "StapledStream",
    "open_tcp_stream",
    "open_tcp_listeners",
    "serve_tcp",
    "open_ssl_over_tcp_stream",
    "open_ssl_over_tcp_listeners",
    "serve_ssl_over_tcp",
    "open_unix_socket",
    "serve_listeners",
    "open_file",
    "wrap_file",
    "Path",
    "run_process",
    "Process",
    "open_signal_receiver",
    "NeedHandshakeError",
}
TRIO_ABC_CORE = {"SendChannel", "ReceiveChannel", "Channel"}

#: Names the docs use that no module's ``__all__`` lists.
PYTHON_EXTRA = [("os.PathLike", "class", "library/os.html#$")]

Entry = tuple[str, str, str]  # name, role, URI


def _role(obj: object) -> str | None:
    if isinstance(obj, type):
        return "exception" if issubclass(obj, BaseException) else "class"
    if isinstance(obj, types.ModuleType):
        return None
    if inspect.isroutine(obj) or callable(obj):
        return "function"
    return None


def _members(module: types.ModuleType, prefix: str) -> Iterator[tuple[str, str, object]]:
    """Public names of *module* defined by its package: (qualified name, role, object)."""
    public = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in public:
        obj = getattr(module, name, None)
        role = _role(obj)
        if role is None:
            continue
        home = getattr(obj, "__module__", "") or ""
        if not home.startswith(prefix.partition(".")[0]) and home != "builtins":
            continue  # re-exported from elsewhere (typing, enum...)
        yield f"{module.__name__}.{name}", role, obj


def _methods(name: str, cls: type) -> Iterator[tuple[str, str]]:
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        if inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)):
            yield f"{name}.{attr}", "method"
        elif isinstance(value, property):
            yield f"{name}.{attr}", "attribute"


def _python() -> list[Entry]:
    entries: list[Entry] = []
    for name, obj in vars(builtins).items():
        if name.startswith("_"):
            continue
        role = _role(obj)
        if role == "exception":
            entries.append((name, role, "library/exceptions.html#$"))
        elif role == "class":
            entries.append((name, role, "library/stdtypes.html#$"))
        elif role == "function":
            entries.append((name, role, "library/functions.html#$"))
    entries += PYTHON_EXTRA
    for modname in STDLIB:
        module = importlib.import_module(modname)
        entries.append((modname, "module", f"library/{modname}.html#module-$"))
        for full, role, obj in _members(module, modname):
            short = full.rpartition(".")[2]
            page = modname
            if modname == "asyncio":
                page = next((p for p, names in ASYNCIO_PAGES.items() if short in names), "asyncio")
            entries.append((full, role, f"library/{page}.html#$"))
            if isinstance(obj, type):
                entries += [(m, r, f"library/{page}.html#$") for m, r in _methods(full, obj)]
    return entries


def _walk(package: str) -> Iterator[types.ModuleType]:
    root = importlib.import_module(package)
    yield root
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        try:
            yield importlib.import_module(info.name)
        except ImportError:  # an optional dependency (tornado, gevent...) is missing
            continue


def _trio() -> list[Entry]:
    entries: list[Entry] = []
    for module in _walk("trio"):
        modname = module.__name__
        if modname not in ("trio", *TRIO_PAGES):
            continue
        default = TRIO_PAGES.get(modname, "reference-core")
        entries.append((modname, "module", f"{default}.html#module-$"))
        for full, role, obj in _members(module, "trio"):
            short = full.rpartition(".")[2]
            page = default
            if modname == "trio" and short in TRIO_IO:
                page = "reference-io"
            if modname == "trio.abc" and short in TRIO_ABC_CORE:
                page = "reference-core"
            entries.append((full, role, f"{page}.html#$"))
            if isinstance(obj, type):
                entries += [(m, r, f"{page}.html#$") for m, r in _methods(full, obj)]
    return entries


def _pyzmq() -> list[Entry]:
    entries: list[Entry] = []
    for module in _walk("zmq"):
        modname = module.__name__
        if modname.startswith(("zmq.backend", "zmq.green", "zmq.eventloop", "zmq.tests")):
            continue
        if modname.startswith("zmq.sugar"):
            continue  # documented under zmq itself
        page = f"api/{modname}.html"
        entries.append((modname, "module", f"{page}#module-$"))
        for full, role, obj in _members(module, "zmq"):
            entries.append((full, role, f"{page}#$"))
            # Type hints name where a class is defined (zmq.sugar.frame.Frame):
            # that name leads to the documented one (zmq.Frame) too.
            defined = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            if defined.startswith("zmq.sugar.") and modname == "zmq":
                entries.append((defined, role, f"{page}#{full}"))
            if isinstance(obj, type):
                entries += [(m, r, f"{page}#$") for m, r in _methods(full, obj)]
    return entries


def _write(filename: str, project: str, version: str, entries: list[Entry]) -> None:
    inventory = soi.Inventory()
    inventory.project = project
    inventory.version = version
    seen = set()
    for name, role, uri in sorted(entries):
        if name in seen:
            continue
        seen.add(name)
        inventory.objects.append(
            soi.DataObjStr(name=name, domain="py", role=role, priority="1", uri=uri, dispname="-")
        )
    OUT.mkdir(exist_ok=True)
    data = inventory.data_file(contract=True)
    soi.writebytes(str(OUT / filename), soi.compress(data))
    print(f"{OUT / filename}: {len(seen)} names of {project} {version}")


def main() -> None:
    import sys

    import trio
    import zmq

    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    _write("python.inv", "Python", python, _python())
    _write("trio.inv", "Trio", trio.__version__, _trio())
    _write("pyzmq.inv", "PyZMQ", zmq.__version__, _pyzmq())


if __name__ == "__main__":
    main()
