"""compare.json and tasks.csv written whole or not at all: a disk that refuses the write leaves what was there,
and the one line says which file (issue 31)."""

import json
import resource
import signal
import subprocess
import sys

from ..conftest import graded_rows, write_jsonl


def small_files_only():
    """In the child: files may not grow past 512 bytes, as on a full disk (the write fails: EFBIG)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))


def test_a_refused_write_names_the_file_and_keeps_the_previous_comparison(tmp_path):
    base = write_jsonl(tmp_path / "b.jsonl", graded_rows({f"t{i}": (8, i % 3) for i in range(6)}, seed=1))
    rl = write_jsonl(tmp_path / "r.jsonl", graded_rows({f"t{i}": (8, i % 4) for i in range(6)}, seed=2))
    command = [sys.executable, "-m", "tether", "compare", str(base), str(rl), "--out",
               str(tmp_path / "out")]
    assert subprocess.run(command, capture_output=True).returncode == 0
    before = {name: (tmp_path / "out" / name).read_bytes() for name in ("compare.json", "tasks.csv")}
    again = subprocess.run([*command, "--seed", "1"], capture_output=True, text=True, preexec_fn=small_files_only)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1] == f"error: [Errno 27] File too large: '{tmp_path}/out/compare.json'"
    assert {name: (tmp_path / "out" / name).read_bytes() for name in before} == before
    assert json.loads(before["compare.json"])["settings"]["seed"] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["compare.json", "tasks.csv"]  # no leftovers
