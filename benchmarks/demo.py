"""Benchmark: `tether demo` from an empty cache on this machine, stage by stage.

    python benchmarks/demo.py [--quick] [--install] [--train]

Runs the demo in a fresh cache and output folder and prints each stage's own time (the demo
reports it as each stage ends) and the whole run, against the targets on 2 CPU cores, offline:
`tether demo` with the shipped pair <= 90 s, and with --install (`make demo`'s install into a
fresh virtual environment, timed first) <= 4 minutes in all. --train retrains the pair first
(`tether demo --train`). It also prints what the demo found: the enumerated probability mass
(>= 1 - 1e-6) and the four regions, sampled and exact.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def install(work: Path) -> tuple[float, str]:
    """Time `make demo`'s install step into a fresh venv; returns (seconds, python of that venv)."""
    venv = work / "venv"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["torch==2.13.0", "-e", f"{ROOT}[lab]"], check=True)
    return time.perf_counter() - start, str(venv / "bin" / "python")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--install", action="store_true", help="also time the install into a fresh venv")
    parser.add_argument("--train", action="store_true", help="retrain the pair first (tether demo --train)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tether-demo-bench-"))
    stages: list[tuple[str, float]] = []
    python = sys.executable
    try:
        if args.install:
            seconds, python = install(work)
            stages.append(("install (fresh venv)", seconds))
        env = {**os.environ, "TETHER_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
        command = [python, "-m", "tether", "demo", "--out", str(work / "out")] + (["--quick"] if args.quick else []) \
            + (["--train"] if args.train else [])
        start = time.perf_counter()
        with subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) as proc:
            for line in proc.stderr:
                match = re.match(r"^(.+?): (ran|skipped) \((.*); ([0-9.]+) s\)$", line.strip())
                if match:
                    stages.append((f"{match.group(1)} ({match.group(3)[:40]})", float(match.group(4))))
            stdout = proc.stdout.read()
        if proc.returncode != 0:
            raise SystemExit(f"demo failed with exit code {proc.returncode}")
        demo_seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    setup = stages[0][1] if args.install else 0.0
    print(f"\ntether demo{' --quick' if args.quick else ''}{' --train' if args.train else ''} from an empty cache, "
          f"{os.cpu_count()} CPU cores")
    for stage, seconds in stages:
        print(f"  {stage:<72} {seconds:7.1f} s")
    print(f"  {'startup, tables (the rest)':<72} {demo_seconds - sum(s for _, s in stages) + setup:7.1f} s")
    print(f"  {'demo alone':<72} {demo_seconds:7.1f} s   target <= 90 s: {'met' if demo_seconds <= 90 else 'MISSED'}")
    if args.install:
        total = setup + demo_seconds
        print(f"  {'install + demo':<72} {total:7.1f} s   target <= 240 s: {'met' if total <= 240 else 'MISSED'}")
    mass = re.search(r"enumerated probability mass: at least ([0-9.]+)", stdout)
    if mass:
        value = float(mass.group(1))
        print(f"  enumerated mass per prompt and model >= {value}   target >= 1 - 1e-6: "
              f"{'met' if value >= 1 - 1e-6 else 'MISSED'}")
    for row in re.findall(r"│ ([PSEO])  \w[\w ]+?\s+│\s+(\d+) │\s+([0-9.]+) │\s+([0-9.]+) │", stdout):
        print(f"  region {row[0]}: sampled {row[1]}, exact expectation {row[2]}, exact P(>= 1 task) {row[3]}")


if __name__ == "__main__":
    main()
