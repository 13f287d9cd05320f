"""The documentation site's reference covers the public API (read without Sphinx).

The reference is autodoc over the docstrings, so a name is documented once
an ``auto*`` directive (or a plain ``data``/``function``/... directive) names
it. These tests read the directives from ``docs/*.rst`` the way Sphinx
resolves them (``module``/``currentmodule`` set the module, a directive nested
in a class documents a member of it), and check that every name in
``trio_zmq.__all__`` and ``trio_zmq.auth.__all__`` is there, and every public
method and property of the public classes. ``docs/conf.py`` makes the build
itself fail on a missing name too.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

import trio_zmq
import trio_zmq.auth
import trio_zmq.testing
from trio_zmq._options import OPTION_NAMES

DOCS = Path(__file__).resolve().parent.parent / "docs"

_DIRECTIVE = re.compile(
    r"^(?P<indent> *)\.\. (?:auto)?(?P<kind>module|currentmodule|class|function|method|"
    r"property|attribute|data|exception)::\s*(?P<name>[\w.]+)",
    re.MULTILINE,
)
# Methods documented in prose: pyzmq's other names for Socket.set and friends.
_ALIASES = {"setsockopt", "getsockopt", "setsockopt_string", "getsockopt_string", "hwm"}


def _documented() -> set[str]:
    """Every fully qualified name a directive of the reference pages documents."""
    names: set[str] = set()
    for page in sorted(DOCS.glob("*.rst")):
        module = ""
        enclosing: tuple[int, str] | None = None  # indent and name of the last class
        for match in _DIRECTIVE.finditer(page.read_text()):
            indent, kind, name = len(match["indent"]), match["kind"], match["name"]
            if kind in ("module", "currentmodule"):
                module, enclosing = name, None
                names.add(name)
                continue
            if enclosing is not None and indent > enclosing[0]:
                full = f"{enclosing[1]}.{name}"
            else:
                full = name if name.startswith("trio_zmq") else f"{module}.{name}"
            names.add(full)
            if kind in ("class", "exception"):
                enclosing = (indent, full)
    return names


def _public() -> list[str]:
    names = [f"trio_zmq.{name}" for name in trio_zmq.__all__]
    names += [f"trio_zmq.auth.{name}" for name in trio_zmq.auth.__all__]
    names += [f"trio_zmq.testing.{name}" for name in trio_zmq.testing.__all__]
    return names


def _public_classes() -> list[tuple[str, type]]:
    classes = []
    for full in _public():
        module, _, name = full.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
        if inspect.isclass(obj):
            classes.append((full, obj))
    return classes


def _members(cls: type) -> set[str]:
    """Public methods and properties; a dataclass's fields are in its docstring."""
    members = set()
    for name, value in vars(cls).items():
        if name.startswith("_") or name in OPTION_NAMES or name in _ALIASES:
            continue
        if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
            continue
        if callable(value) or isinstance(value, (property, classmethod, staticmethod)):
            members.add(name)
    return members


def test_the_reader_finds_nested_and_qualified_directives() -> None:
    documented = _documented()
    assert "trio_zmq.Context.socket" in documented  # written as Context.socket
    assert "trio_zmq.Socket.send" in documented  # written as Socket.send
    assert "trio_zmq.auth.Authenticator.allow" in documented  # after currentmodule


@pytest.mark.parametrize("name", _public())
def test_the_reference_documents_every_public_name(name: str) -> None:
    assert name in _documented()


@pytest.mark.parametrize(("name", "cls"), _public_classes(), ids=lambda value: str(value))
def test_the_reference_documents_every_method_of_the_public_classes(name: str, cls: type) -> None:
    missing = {member for member in _members(cls) if f"{name}.{member}" not in _documented()}
    assert not missing, f"{name}: {sorted(missing)}"


def test_the_reference_names_the_other_names_of_socket_methods() -> None:
    reference = (DOCS / "reference.rst").read_text()
    for alias in sorted(_ALIASES):
        assert f"``{alias}``" in reference or f"sock.{alias}" in reference, alias


def test_the_guide_page_names_every_example() -> None:
    guide = (DOCS / "guide.md").read_text()
    examples = sorted((DOCS.parent / "examples").glob("*.py"))
    assert examples
    missing = [example.name for example in examples if f"`{example.name}`" not in guide]
    assert not missing, f"docs/guide.md does not present {missing}"


def test_the_changelog_headings_render_without_literal_brackets() -> None:
    """``## [0.3.0]`` is a link only with a definition ``[0.3.0]: URL``; else it shows its brackets."""
    changelog = (DOCS.parent / "CHANGELOG.md").read_text()
    definitions = set(re.findall(r"^\[([^\]]+)\]: \S+", changelog, flags=re.MULTILINE))
    headings = re.findall(r"^##+ (.*)$", changelog, flags=re.MULTILINE)
    assert any(re.match(r"\d+\.\d+\.\d+ - \d{4}-\d\d-\d\d$", heading) for heading in headings)
    bare = [h for h in headings if (m := re.match(r"\[([^\]]+)\]", h)) and m[1] not in definitions]
    assert not bare, f"headings whose brackets would show: {bare}"


def test_every_version_note_of_the_reference_names_a_release_of_the_changelog() -> None:
    releases = set(
        re.findall(r"^## \[?(\d+\.\d+\.\d+)", (DOCS.parent / "CHANGELOG.md").read_text(), re.M)
    )
    reference = (DOCS / "reference.rst").read_text()
    notes = re.findall(r"\.\. version(?:added|changed|removed):: (\S+)", reference)
    assert len(notes) >= 20
    assert set(notes) <= releases - {"0.1.0"}, set(notes) - releases


def test_socket_iteration_is_documented_as_async_for() -> None:
    reference = (DOCS / "reference.rst").read_text()
    assert "__anext__" not in reference
    assert ".. describe:: async for message in sock" in reference
