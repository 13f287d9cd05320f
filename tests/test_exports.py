"""What the package exports: ``__all__`` matches the public names, as Trio tests its own."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import trio_zmq

PUBLIC_MODULES = ["trio_zmq", "trio_zmq.auth", "trio_zmq.testing"]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a user sees: not private, not a module imported for internal use."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith(("_", "@")) or name == "annotations":  # "@": pytest's rewriting
            continue
        if isinstance(value, types.ModuleType) and not value.__name__.startswith(
            f"{module.__name__}."
        ):
            continue  # e.g. `zmq`, `trio` imported by the module itself
        names.add(name)
    return names


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_lists_exactly_the_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(_public_names(module))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_public_names_show_as_trio_zmq_not_a_private_module() -> None:
    for name in trio_zmq.__all__:
        value = getattr(trio_zmq, name)
        if isinstance(value, types.ModuleType):
            continue
        assert not getattr(value, "__module__", "trio_zmq").startswith("trio_zmq._"), name


def test_every_other_module_is_private() -> None:
    for info in pkgutil.walk_packages(trio_zmq.__path__, "trio_zmq."):
        last = info.name.rsplit(".", 1)[-1]
        if info.name in PUBLIC_MODULES or info.name == "trio_zmq.__main__":
            continue
        parents = info.name.split(".")[1:]
        assert any(part.startswith("_") for part in parents), (
            f"{info.name} is public by its name but not in PUBLIC_MODULES ({last})"
        )
