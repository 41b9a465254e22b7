"""End to end on a real model (issue 29): SmolLM2-135M-Instruct sampled by `tether sample` (transformers
engine, CPU) on four Reasoning Gym `chain_sum` tasks under two labels, graded under three verifiers at once
(`--verifier auto,math,exact`); `tether grade` warns that the model ignores the <answer> tags the prompt asks
for, and `tether compare --verifiers` shows the regions under each verdict set side by side.

Kept short (4 tasks, k = 4, 16 tokens, seeded): about 15 s of a quiet 2-core machine, most of it sampling."""

import json
import re

import numpy as np

from tether.metrics.support import classify_tasks
from tether.store import open_store, query

from ..cli_run import tether as cli

SPEC = "reasoning-gym:chain_sum?size=4&seed=1"  # 4 - 1 - 7, 1 + 5, 57 + 87 + 70, 205 - 838 + 505
SETS = ("auto", "math", "exact")


def test_smollm2_graded_under_three_verifiers_shows_the_warning_and_the_regions_by_grader(smollm2, tmp_path):
    store = tmp_path / "run"
    for label, temperature in (("base", "1.0"), ("rl", "0.6")):
        out = cli("sample", store, "--engine", "transformers", "--model", smollm2, "-o", "device=cpu", "--tasks", SPEC,
                  "--k", "4", "--max-tokens", "16", "--temperature", temperature, "--label", label)
        assert out.returncode == 0, out.stderr

    out = cli("grade", store, "--verifier", ",".join(SETS), "--workers", "1")
    assert out.returncode == 0, out.stderr
    for label in ("base", "rl"):  # SmolLM2 does not write the <answer> tags Reasoning Gym's prompt asks for
        assert re.search(rf"^{label}: \d+% of completions in the requested <answer> tags", out.stdout, re.MULTILINE)
        assert re.search(rf"^warning: {label}: .*requested <answer> tags", out.stdout, re.MULTILINE), out.stdout
    assert "verdict set math (kept beside auto, which counts): base " in out.stdout
    assert "tether compare STORE --verifiers auto,math,exact" in out.stdout

    shown = cli("compare", store, "--verifiers", ",".join(SETS), "--bootstrap-reps", "50", "--extrapolate", "0",
                "--out", tmp_path / "out")  # the table on stdout, the same comparison's JSON in compare.json
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    table = text[text.index("Regions by grader"):]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines()[4:7]]
    assert [row[0] for row in rows] == ["auto (counts)", "math", "exact"]
    for row in rows:  # P, S, E, O: every task in one region under each set
        assert sum(int(row[i]) for i in (1, 2, 4, 6)) == 4, row
    assert re.search(r"^tasks whose region moves: (none of 4|\d of 4: )", text, re.MULTILINE)

    payload = json.loads((tmp_path / "out" / "compare.json").read_text())
    found = payload["sensitivity"]
    assert found["sets"][0]["counts"] == payload["counts"]  # the counting set is the main comparison's
    opened = open_store(store)
    regions = {}
    for name in SETS:  # each set counted on its own, task by task: the moves are exactly the tasks that differ
        base, rl = (query.task_counts(opened, label, versions=opened.manifest().verdict_sets(label)[name].versions)
                    for label in ("base", "rl"))
        regions[name] = dict(zip(base.task_ids.astype(str), classify_tasks(base.n, base.c, rl.n, rl.c)))
        assert found["sets"][SETS.index(name)]["correct"]["base"] == float(np.sum(base.c) / np.sum(base.n))
    moved = {t: {name: regions[name][t] for name in SETS} for t in regions["auto"]
             if len({regions[name][t] for name in SETS}) > 1}
    assert {t["task_id"]: t["regions"] for t in found["moved"]} == moved
