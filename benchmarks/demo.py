"""Benchmark: `tether demo` from nothing (models trained, not cached) on this machine.

    python benchmarks/demo.py [--quick]

Runs the demo in a fresh cache and output folder, times each stage from its progress lines and
the whole run, and prints them against the target (<= 5 minutes on 2 CPU cores, offline).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tether-demo-bench-"))
    env = {**os.environ, "TETHER_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "tether", "demo", "--out", str(work / "out")] + (["--quick"] if args.quick else [])
    start = last = time.perf_counter()
    stages = []
    try:
        with subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env) as proc:
            for line in proc.stderr:
                if ": ran (" in line or ": skipped (" in line:
                    now = time.perf_counter()
                    stages.append((line.split(":")[0].strip(), now - last))
                    last = now
        if proc.returncode != 0:
            raise SystemExit(f"demo failed with exit code {proc.returncode}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - start
    print(f"\ntether demo{' --quick' if args.quick else ''} from an empty cache, {os.cpu_count()} CPU cores")
    for name, seconds in stages:
        print(f"  {name:<28} {seconds:7.1f} s   (time since the previous stage line)")
    print(f"  {'total':<28} {total:7.1f} s   target <= 300 s: {'met' if total <= 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
