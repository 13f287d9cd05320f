"""Sphinx configuration for trio_zmq's documentation site.

Built by ``nox -s docs`` with warnings as errors, in nitpicky mode, as HTML
and with the doctest builder, which runs every ``testcode``/``doctest``
block of the prose pages. The reference is autodoc over the docstrings;
sphinxcontrib-trio marks what is awaited, entered with ``async with`` or
iterated with ``async for``.

The build reaches no network, yet names of Trio, pyzmq and the standard
library link to their projects' documentation: intersphinx reads inventories
kept in ``docs/_inventories/``, which ``python docs/make_inventories.py``
writes from the installed packages (run it again to refresh them). Besides
the roles (``:class:`trio.Cancelled```), a literal that is nothing but such
a name, or a call of one (``trio.Cancelled``, ``asyncio.wait_for(...)``),
becomes a link: the porting tables and the docstrings name them that way.
"""

from __future__ import annotations

import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

import trio_zmq
import trio_zmq.auth

project = "trio_zmq"
author = "The trio_zmq developers"
copyright = "the trio_zmq developers"
release = trio_zmq.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinxcontrib_trio",
    "myst_parser",
    "sphinx_copybutton",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = f"trio_zmq {release}"

# MyST: ``[text](#heading-anchor)`` links, ``:::`` fences and definition lists.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# The docstrings are reStructuredText with Google-style sections.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
# sphinxcontrib-trio plugs in autodoc's class-based documenters (it takes
# over autofunction and automethod to mark what is awaited); use them for
# every directive, so that all of autodoc's hooks (preserved defaults among
# them) run for its documenters too.
autodoc_use_legacy_class_based = True

# Offline intersphinx: the inventories are files of this repository, made by
# docs/make_inventories.py (its docstring says how to refresh them).
_INVENTORIES = Path(__file__).resolve().parent / "_inventories"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", str(_INVENTORIES / "python.inv")),
    "trio": ("https://trio.readthedocs.io/en/stable", str(_INVENTORIES / "trio.inv")),
    "pyzmq": ("https://pyzmq.readthedocs.io/en/latest", str(_INVENTORIES / "pyzmq.inv")),
}
intersphinx_timeout = 1

# A copy button on every code block. It copies what a reader would type:
# without the shell's ``$`` and Python's ``>>>``/``...`` prompts, and without
# the output lines of a console session (those have no prompt).
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_exclude = ".linenos, .gp, .go"

# Every code sample in the prose pages runs in the doctest builder.
doctest_global_setup = """
import trio
import zmq
import trio_zmq
"""
doctest_test_doctest_blocks = ""  # only explicit doctest/testcode blocks run

# Every reference must resolve, whoever builds the site (nox -s docs, Read the
# Docs): nitpicky here, not only on the command line.
nitpicky = True

nitpick_ignore_regex = [
    # Type aliases and type variables of the signatures, defined for type
    # checkers only.
    (r"py:class", r"(Buffer|T|CurveCallback)"),
]

logger = logging.getLogger(__name__)


#: Loaded by pytest only (it imports pytest), and defines no constant.
_PYTEST_PLUGIN = "trio_zmq.testing._plugin"


def _private_modules() -> list[str]:
    """Every private module of trio_zmq (where the public names are defined)."""
    names = []
    for info in pkgutil.walk_packages(trio_zmq.__path__, "trio_zmq."):
        if info.name == _PYTEST_PLUGIN:
            continue
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def _data_docs() -> dict[str, list[str]]:
    """``#:`` comments of module-level constants, by name, from the private modules.

    A public constant such as ``trio_zmq.DEFAULT_LINGER`` is an ``int``: it
    carries no docstring, and its ``#:`` comment sits where it is defined,
    not in the ``__init__.py`` that re-exports it. One source of truth: the
    comment is read from there.
    """
    docs: dict[str, list[str]] = {}
    for modname in _private_modules():
        for (scope, name), lines in ModuleAnalyzer.for_module(modname).find_attr_docs().items():
            if scope == "":
                docs.setdefault(name, list(lines))
    return docs


_DATA_DOCS = _data_docs()


def _constant_docstring(
    app: Any, what: str, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    if what != "data" or not name.startswith("trio_zmq."):
        return
    short = name.rpartition(".")[2]
    if lines and inspect.getdoc(obj) != inspect.getdoc(type(obj)):
        return  # documented where it stands
    lines[:] = _DATA_DOCS.get(short, [])
    if not lines:
        logger.warning("%s has no #: comment where it is defined", name)


def _drop_misleading_signature_parts(
    app: Any,
    what: str,
    name: str,
    obj: object,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """No return type for ``async with`` functions; no signature for factory-made classes.

    An ``@asynccontextmanager`` function is annotated as returning an async
    iterator, but users enter it with ``async with``: sphinxcontrib-trio
    already says so. Classes users never construct (``NoPublicConstructor``
    style, made by a factory) would show ``(*args, **kwargs)``.
    """
    if what == "class" and signature in ("(*args: object, **kwargs: object)", "(*args, **kwargs)"):
        return "", None
    wrapped = getattr(obj, "__wrapped__", None)
    if what == "function" and inspect.isasyncgenfunction(wrapped):
        return signature, None
    return None


def _qualify_foreign_types(app: Any, doctree: nodes.document) -> None:
    """Show pyzmq's and Trio's types in signatures by their public names.

    Short type hints would show ``zmq.Context`` as ``Context`` and
    ``zmq.sugar.frame.Frame`` as ``Frame``: next to trio_zmq's own
    ``Context`` and ``Socket`` that misleads. Every reference into ``zmq`` or
    ``trio`` in a signature is shown as ``zmq.Name`` or ``trio.Name``.
    """
    for signature in doctree.findall(addnodes.desc_signature):
        for xref in signature.findall(addnodes.pending_xref):
            target = xref.get("reftarget", "")
            package = target.partition(".")[0]
            if package in ("zmq", "trio") and xref.astext() != target:
                xref.children = [nodes.Text(f"{package}.{target.rpartition('.')[2]}")]


#: A literal that names one outside object, or calls it: ``trio.Cancelled``,
#: ``await asyncio.wait_for(sock.recv(), timeout=1)``, ``ctx = zmq.asyncio.Context()``,
#: ``TypeError``.
_NAMED_LITERAL = re.compile(r"^(?:await |\w+ = )?(?P<name>[A-Za-z_][\w.]*)(?:\(.*\))?$", re.DOTALL)
#: Roles of intersphinx's object types, for the references made below.
_ROLES = {
    "py:module": "mod",
    "py:class": "class",
    "py:exception": "exc",
    "py:function": "func",
    "py:method": "meth",
    "py:attribute": "attr",
    "py:data": "data",
}


def _link_named_literals(app: Any, doctree: nodes.document) -> None:
    """Make inline literals that name an object of Python, Trio or pyzmq links to it.

    The prose and the docstrings write outside names as code (``trio.Cancelled``,
    a porting table's ``asyncio.wait_for(...)``); where the whole literal is one
    name of the inventories, or a call of one, it becomes a cross-reference
    that intersphinx resolves. Literals already in a link or a signature stay
    as they are, and so do bare words that are not qualified (``send``), except
    Python's builtins.
    """
    from sphinx.ext.intersphinx import InventoryAdapter

    known: dict[str, str] = {}
    for objtype, objects in InventoryAdapter(app.env).main_inventory.items():
        if objtype in _ROLES:
            for name in objects:
                known.setdefault(name, _ROLES[objtype])
    for literal in list(doctree.findall(nodes.literal)):
        if isinstance(
            literal.parent, (nodes.reference, addnodes.pending_xref, nodes.literal_block)
        ):
            continue
        if any(isinstance(a, addnodes.desc_signature) for a in _ancestors(literal)):
            continue
        match = _NAMED_LITERAL.match(literal.astext())
        if match is None or match["name"] not in known:
            continue
        name = match["name"]
        xref = addnodes.pending_xref(
            "",
            refdomain="py",
            reftype=known[name],
            reftarget=name,
            refexplicit=True,
            refwarn=False,
        )
        literal.replace_self(xref)
        xref += literal


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


def _resolve_from_private_modules(
    app: Any, env: Any, node: addnodes.pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve what the design page's essays name, or show it as code.

    The private modules' essays name their neighbours as they are known
    there: ``:data:`SCHEDULE_INTERVAL``` in ``_checkpoints.py`` is
    ``trio_zmq.SCHEDULE_INTERVAL`` to a user, and links there. A helper the
    site does not document (``build_engine``, ``ZapRequest``) stays code
    without a link. This applies to references made inside a private
    module's docstrings only; everywhere else nitpicky mode stays strict.
    """
    if node.get("refdomain") != "py" or not str(node.get("py:module")).startswith("trio_zmq._"):
        return None
    domain = env.get_domain("py")
    target = node["reftarget"]
    for public in ("trio_zmq", "trio_zmq.auth"):
        if f"{public}.{target}" in domain.objects:
            return domain.resolve_xref(  # type: ignore[no-any-return]
                env,
                node["refdoc"],
                app.builder,
                node["reftype"],
                f"{public}.{target}",
                node,
                contnode,
            )
    return contnode


def _public_names() -> list[str]:
    names = [f"trio_zmq.{name}" for name in trio_zmq.__all__]
    names += [f"trio_zmq.auth.{name}" for name in trio_zmq.auth.__all__]
    return names


def _check_reference_is_complete(app: Any, env: Any) -> None:
    """Fail the build when a public name has no entry in the reference."""
    domain = env.get_domain("py")
    documented = set(domain.objects) | set(domain.modules)
    for name in _public_names():
        if name not in documented:
            logger.warning("the API reference does not document %s", name)


def setup(app: Any) -> None:
    app.connect("autodoc-process-docstring", _constant_docstring)
    app.connect("autodoc-process-signature", _drop_misleading_signature_parts)
    app.connect("doctree-read", _qualify_foreign_types)
    app.connect("doctree-read", _link_named_literals)
    app.connect("missing-reference", _resolve_from_private_modules)
    app.connect("env-check-consistency", _check_reference_is_complete)
