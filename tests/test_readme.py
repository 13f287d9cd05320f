"""The README's promises: its example runs as printed, its commands and links are real.

The rest of what the README used to show now lives in the documentation
site, whose code samples run in the docs build (``nox -s docs``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_example_runs_and_prints_the_echoes() -> None:
    (example,) = _python_blocks()  # one example; the documentation site has the rest
    assert len(example.strip().splitlines()) <= 25  # "a 20-line example", give or take
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", example],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"hello {i}" for i in range(4)]


def test_the_readme_gives_the_two_commands() -> None:
    (commands,) = re.findall(r"```console\n(.*?)```", README.read_text(), flags=re.DOTALL)
    lines = [line.partition("#")[0].strip() for line in commands.strip().splitlines()]
    assert lines == ["$ pip install . && trio-zmq demo", "$ pip install nox && nox"]


def test_every_link_of_the_readme_into_the_repository_leads_somewhere() -> None:
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README.read_text())
    assert any(target.startswith("docs/") for target in targets)
    missing = [target for target in targets if not (README.parent / target).exists()]
    assert not missing, missing
