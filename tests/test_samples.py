"""Every Python sample of the index and the tutorial runs as a reader copies it.

A reader copies one block from the page into a file and runs it: no
``doctest_global_setup``, no earlier block. Each Python block of
``docs/index.md`` and ``docs/tutorial.md`` (``testcode``, ``python`` and
``code-block`` fences) is run that way, in a fresh interpreter in
development mode with warnings as errors, with a time limit, and what it
prints is compared with the ``testoutput`` block under it. A page may state
a preamble that every block assumes: a block that follows a line
``<!-- preamble -->`` is put in front of each later block of that page (the
pages here have none, since every block carries its imports).

The tutorial's last program is ``examples/tutorial_broker.py``, shown
with one run's output; a run's lines must be lines of that form (which
worker answers, and how often a client asks again, change between runs).
"""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["index.md", "tutorial.md"]
TIME_LIMIT = 60  # seconds per sample; each finishes in well under one

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S)
_PYTHON = {"python", "py", "python3", "{testcode}"}
_PREAMBLE_MARK = "<!-- preamble -->"


class Sample(NamedTuple):
    page: str
    line: int
    code: str
    output: str | None  # the testoutput block under it, if any
    options: str  # the testoutput's :options:


def _language(info: str) -> str:
    words = info.split()
    if not words:
        return ""
    if words[0] == "{code-block}" and len(words) > 1:
        return words[1]
    return words[0]


def _strip_directive_options(body: str) -> tuple[str, str]:
    """MyST directive options (``:options: +ELLIPSIS``) open a block; split them off."""
    options = []
    lines = body.splitlines(keepends=True)
    while lines and lines[0].startswith(":"):
        options.append(lines.pop(0))
    if options and lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines), "".join(options)


def _samples() -> list[Sample]:
    samples = []
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text()
        preamble = ""
        fences = list(_FENCE.finditer(text))
        for i, fence in enumerate(fences):
            if _language(fence["info"]) not in _PYTHON:
                continue
            code, _ = _strip_directive_options(fence["body"])
            if text[: fence.start()].rstrip().endswith(_PREAMBLE_MARK):
                preamble += code + "\n"
                continue
            output, options = None, ""
            after = fences[i + 1] if i + 1 < len(fences) else None
            if after is not None and _language(after["info"]) == "{testoutput}":
                between = text[fence.end() : after.start()]
                if not between.strip():
                    output, options = _strip_directive_options(after["body"])
            line = text.count("\n", 0, fence.start()) + 1
            samples.append(Sample(page, line, preamble + code, output, options))
    return samples


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", *args],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        cwd=ROOT,
    )


def test_the_pages_have_samples_and_every_sample_its_output() -> None:
    samples = _samples()
    assert {sample.page for sample in samples} == set(PAGES)
    assert len([s for s in samples if s.page == "tutorial.md"]) >= 10
    missing = [f"{s.page}:{s.line}" for s in samples if s.output is None]
    assert not missing, f"samples without a testoutput block: {missing}"


@pytest.mark.parametrize("sample", _samples(), ids=lambda s: f"{s.page}:{s.line}")
def test_a_sample_copied_from_the_page_runs_and_prints_what_the_page_shows(
    sample: Sample,
) -> None:
    done = _run("-c", sample.code)
    assert done.returncode == 0, done.stderr
    assert sample.output is not None
    flags = doctest.ELLIPSIS if "ELLIPSIS" in sample.options else 0
    checker = doctest.OutputChecker()
    assert checker.check_output(sample.output, done.stdout, flags), (
        f"the page shows:\n{sample.output}\nthe sample printed:\n{done.stdout}"
    )


def _shown_output_of_the_last_program() -> str:
    text = (ROOT / "docs" / "tutorial.md").read_text()
    (block,) = re.findall(r":name: tutorial-broker-output\n\n(.*?)^```", text, flags=re.M | re.S)
    return str(block)


def _form(line: str) -> str:
    return re.sub(r"\d+", "N", line)


def test_the_last_program_prints_lines_of_the_form_the_tutorial_shows() -> None:
    shown = _shown_output_of_the_last_program().splitlines()
    done = _run(str(ROOT / "examples" / "tutorial_broker.py"))
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert {_form(line) for line in printed} == {_form(line) for line in shown}
    assert len(printed) >= len(shown)
