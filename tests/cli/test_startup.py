"""The light commands start fast: `import tether`, `tether --help`, `--version` and `tether bound`
load none of the heavy libraries (pyarrow.compute, duckdb, torch) nor the engines."""

import subprocess
import sys

import pytest

HEAVY = ("pyarrow.compute", "duckdb", "torch", "transformers", "vllm", "ray", "tether.engines", "tether.store")

PROBE = """
import sys
{run}
heavy = [name for name in {heavy!r} if name in sys.modules]
print("HEAVY=" + ",".join(heavy))
"""


def _loaded(run: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(run=run, heavy=HEAVY)], capture_output=True, text=True)
    line = [x for x in done.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line, done.stdout + done.stderr
    return [name for name in line[0][len("HEAVY="):].split(",") if name]


def _cli(*args: str) -> str:
    return ("from tether.cli import app\n"
            f"try:\n    app({list(args)!r}, standalone_mode=False)\nexcept SystemExit:\n    pass")


@pytest.mark.parametrize("run", [
    "import tether; tether.__version__",
    _cli("--help"),
    _cli("--version"),
    _cli("bound", "--k", "100"),
    _cli("sample", "--help"),
])
def test_light_commands_load_nothing_heavy(run):
    assert _loaded(run) == []


def test_the_probe_sees_a_heavy_import():
    """The check itself: a command that does open a store is seen loading duckdb's side."""
    assert "tether.store" in _loaded("import tether; tether.Store")
