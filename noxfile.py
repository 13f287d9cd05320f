"""The only way anyone runs the checks: `nox` runs every default session.

Sessions install the built wheel, never the source tree, so the tests see
what users get. The interpreters come from the classifiers in
pyproject.toml. A missing one fails the run in CI (where the ``CI``
environment variable is set, as ``.ci/run`` sets it), so that no session
passes by being skipped; on a user's machine its sessions are skipped, and
nox names the missing Python: "Session docs skipped: Python interpreter 3.13
not found".

The suite runs against three sets of trio and pyzmq: `tests` the newest
releases (on each Python), `tests_oldest` the lowest versions pyproject.toml
admits, and `tests_pre` the newest pre-releases, so that a coming release
that breaks trio_zmq shows up before users get it (with no pre-release newer
than the newest release, that release).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "tests_oldest",
    "tests_pre",
    "examples",
    "network",
    "docs",
    "build",
]
# In CI a session whose Python is missing fails; elsewhere it is skipped.
nox.options.error_on_missing_interpreters = "CI" in os.environ

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)
OLDEST_PYTHON = PYTHONS[0]


def _dependencies() -> list[tuple[str, str]]:
    """The runtime dependencies and their floors: ("trio", "0.25.0"), ("pyzmq", "25.1.2")."""
    pairs = []
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, _, floor = requirement.partition(">=")
        pairs.append((name.strip(), floor.strip()))
    return pairs


def _floors() -> list[str]:
    """The lowest versions pyproject.toml admits, pinned: trio==X, pyzmq==Y."""
    return [f"{name}=={floor}" for name, floor in _dependencies()]


def _newest_pre_releases(session: nox.Session) -> list[str]:
    """Pins of the newest trio and pyzmq, pre-releases admitted: trio==X, pyzmq==Y.

    Found by installing the two alone (no dependencies) with pre-releases
    admitted, pip's ``--pre`` or uv's ``--prerelease=allow`` by the session's
    backend, which picks the newest version: a pre-release, or a release
    where it is newer. Both flags admit pre-releases of everything an install
    resolves, so the pins go to the real install instead, where a pinned
    pre-release admits itself alone: the test tools and trio's and pyzmq's
    own dependencies stay on releases. (A pre-release in a specifier, such
    as ``trio>=0.25.0.dev0``, would do for pip, but uv reads it as admitting
    pre-releases of 0.25.0 only.)
    """
    admit = "--prerelease=allow" if session.venv_backend == "uv" else "--pre"
    names = [name for name, _ in _dependencies()]
    session.install(admit, "--upgrade", "--no-deps", *names)
    found = session.run_install(  # an install step: skipped, as the installs are, by --no-install
        "python",
        "-c",
        "import importlib.metadata as m, sys; "
        "print(' '.join(f'{n}=={m.version(n)}' for n in sys.argv[1:]))",
        *names,
        silent=True,
    )
    return [] if found is None else str(found).split()


def _group(name: str) -> list[str]:
    return list(PYPROJECT["dependency-groups"][name])


def _install_wheel(session: nox.Session, *extra: str) -> None:
    """Build the project's wheel and install it with *extra* packages."""
    wheel_dir = Path(session.create_tmp()) / "dist"
    session.run(
        "uv", "build", "--wheel", "-q", "--out-dir", str(wheel_dir), str(ROOT), external=True
    )
    wheels = sorted(wheel_dir.glob("trio_zmq-*.whl"), key=os.path.getmtime)
    session.install(str(wheels[-1]), *extra)


def _show_versions(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "import trio, zmq; print('trio', trio.__version__, 'pyzmq', zmq.__version__)",
    )


def _pytest(session: nox.Session) -> None:
    # The network scenarios run in a session of their own (`network`).
    session.run("pytest", "-m", "not network", *session.posargs, env={"PYTHONDEVMODE": "1"})


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on each Python, with the newest trio and pyzmq."""
    _install_wheel(session, *_group("test"))
    _pytest(session)


@nox.session(python=OLDEST_PYTHON)
def tests_oldest(session: nox.Session) -> None:
    """The test suite with the lowest trio and pyzmq that pyproject.toml allows."""
    # AnyIO 4.4.0 is the newest whose Trio backend admits the Trio floor.
    _install_wheel(session, *_group("test"), *_floors(), "anyio==4.4.0")
    _show_versions(session)
    _pytest(session)


@nox.session(python=PYTHONS[-1])
def tests_pre(session: nox.Session) -> None:
    """The test suite with the newest pre-releases of trio and pyzmq (or releases, if newer)."""
    _install_wheel(session, *_group("test"), *_newest_pre_releases(session))
    _show_versions(session)
    _pytest(session)


@nox.session(python=PYTHONS[-1])
def network(session: nox.Session) -> None:
    """Faults on a real network stack: namespaces, veth links, partitions, a slow link.

    Needs root on Linux (namespaces and links); elsewhere the tests skip and
    say why. CI sets TRIO_ZMQ_REQUIRE_NETNS=1, which makes such a skip fail.
    """
    _install_wheel(session, *_group("test"))
    session.run(
        "pytest",
        "tests/test_network.py",
        "-m",
        "network",
        *session.posargs,
        env={"PYTHONDEVMODE": "1"},
    )


@nox.session(python=PYTHONS[-1])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))


@nox.session(python=PYTHONS[-1])
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, tests, examples and this file; pyright --verifytypes."""
    _install_wheel(session, *_group("typecheck"), *_group("test"), "nox", "matplotlib>=3.7")
    session.chdir(ROOT)
    session.run(
        "mypy",
        "--strict",
        "--explicit-package-bases",
        "trio_zmq",
        "tests",
        "examples",
        "noxfile.py",
    )
    # Type completeness of the installed package as Trio checks its own
    # (exits non-zero below 100%).
    session.run("pyright", "--verifytypes", "trio_zmq", "--ignoreexternal")


@nox.session(python=PYTHONS[-1])
def examples(session: nox.Session) -> None:
    """Run every example to completion, each with a time limit."""
    # anyio: examples/anyio_backend.py; pytest: examples/testing_broker.py runs its tests.
    _install_wheel(session, "anyio>=4.4", "pytest>=8", "pytest-trio>=0.8.0")
    for example in sorted((ROOT / "examples").glob("*.py")):
        session.log(f"example: {example.name}")
        session.run("python", "-X", "dev", str(example), env={"PYTHONWARNINGS": "error"})


@nox.session(python=PYTHONS[-1])
def docs(session: nox.Session) -> None:
    """The documentation site, warnings as errors; its code samples run as doctests."""
    _install_wheel(session, *_group("docs"))
    session.chdir(ROOT)
    out = Path(session.create_tmp())
    for builder in ("html", "doctest"):
        session.run(
            "sphinx-build",
            "--fail-on-warning",
            "--keep-going",
            "--nitpicky",
            "--builder",
            builder,
            "docs",
            str(out / builder),
        )
    session.log(f"site: {out / 'html' / 'index.html'}")


@nox.session(python=PYTHONS[-1])
def build(session: nox.Session) -> None:
    """Release checks: sdist and wheel, twine check, the sdist installed fresh runs the demo."""
    session.install(*_group("build"))
    tmp = Path(session.create_tmp())
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # uv builds the sdist, then the wheel from the sdist: a file missing from
    # the sdist breaks the wheel here, not on a user's machine.
    session.run("uv", "build", "-q", "--out-dir", str(dist), str(ROOT), external=True)
    artifacts = sorted(str(path) for path in dist.glob("trio_zmq-*"))
    session.run("twine", "check", "--strict", *artifacts)
    (sdist,) = dist.glob("trio_zmq-*.tar.gz")
    fresh = tmp / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    session.run("python", "-m", "venv", str(fresh))
    bin_dir = fresh / ("Scripts" if sys.platform == "win32" else "bin")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet"]
    session.run(*pip, "--disable-pip-version-check", str(sdist), external=True)
    session.run(str(bin_dir / "trio-zmq"), "--version", external=True)
    session.run(str(bin_dir / "trio-zmq"), "demo", external=True)


@nox.session(python=PYTHONS[-1], default=False)
def soak(session: nox.Session) -> None:
    """Opt-in long runs: 10,000 sockets, a million messages through a proxy, a minute of churn."""
    _install_wheel(session, *_group("test"))
    session.run(
        "pytest",
        "tests/test_resources.py",
        "tests/test_churn.py",
        *session.posargs,
        env={"PYTHONDEVMODE": "1", "TRIO_ZMQ_SOAK": "1"},
    )


@nox.session(python=PYTHONS[-1])
def bench(session: nox.Session) -> None:
    """The side-by-side benchmark (--quick: a short run; --plot FILE.svg: a chart)."""
    _install_wheel(session, "zmq-anyio", "matplotlib>=3.7")
    session.run("trio-zmq", "bench", *session.posargs)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run this file with nox")
