"""The newcomer's sequence written in docs/cli.md ("A run from start to end, one spelling"), run as written on
the lab pair (smaller budgets), each command with `--json`: one store argument, one way to name labels, and
every result exactly one JSON object on stdout."""

import json
import re
import shlex
from pathlib import Path

from ..cli_run import tether as cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
SMALLER = {"64": "8", "1024": "32"}  # the budgets of the docs, cut for a test


def _sequence() -> list[list[str]]:
    text = DOCS.read_text()
    block = text[text.index("## A run from start to end"):]
    block = block[block.index("```bash") + len("```bash"):]
    block = block[:block.index("```")]
    return [shlex.split(line.split("#")[0]) for line in block.strip().splitlines() if line.strip()]


def test_the_documented_sequence_runs_with_one_spelling_and_json_everywhere(tmp_path):
    sequence = _sequence()
    assert [argv[1] for argv in sequence] == ["sample", "sample", "grade", "compare", "report", "likelihood",
                                              "plan", "check"]
    results = {}
    for argv in sequence:
        assert argv[0] == "tether" and argv[2] == "run", argv  # the store: the first argument, every time
        args = [str(tmp_path / "run") if a == "run" else SMALLER.get(a, a) for a in argv[2:]]
        args = [str(tmp_path / a) if a == "report" and i and args[i - 1] == "--out" else a for i, a in enumerate(args)]
        out = cli(argv[1], *args, "--json")
        assert out.returncode == 0, (argv, out.stderr)
        lines = out.stdout.splitlines()
        assert len(lines) == 1, (argv, out.stdout[:500])
        results.setdefault(argv[1], []).append(json.loads(lines[0]))
    assert sum(results["compare"][0]["counts"].values()) == 29  # lab-sums:2-30: every task in one region
    assert results["check"][0]["ok"] is True
    assert (tmp_path / "report" / "report.html").exists()
    assert re.search(r"\d", json.dumps(results["plan"][0]))
