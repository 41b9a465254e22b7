"""`compare` on one store never compares a label with itself, and says why (issue 18)."""


import pytest

import tether
from tether.errors import InputError

from ..cli_run import tether as cli
from ..conftest import graded_rows, imported_pair, recorded_run, write_jsonl


def test_a_label_without_verdicts_is_refused_not_compared_with_the_other(tmp_path):
    counts = {f"t{i}": (8, i % 4) for i in range(4)}
    tether.import_samples(write_jsonl(tmp_path / "g.jsonl", graded_rows(counts, 1)), tmp_path / "run", label="base")
    ungraded = [{"task_id": f"t{i}", "completion": "x"} for i in range(4)]
    tether.import_samples(write_jsonl(tmp_path / "u.jsonl", ungraded), tmp_path / "run", label="rl")
    with pytest.raises(InputError, match=r"no verdicts for label 'rl'.*not graded yet.*graded labels: base"):
        tether.compare(store=tmp_path / "run")
    out = cli("compare", str(tmp_path / "run"))
    assert out.returncode == 2 and "no verdicts for label 'rl'" in out.stderr and "base (" not in out.stdout


def test_a_label_is_never_compared_with_itself(tmp_path):
    counts = {f"t{i}": (8, i % 4) for i in range(4)}
    tether.import_samples(write_jsonl(tmp_path / "g.jsonl", graded_rows(counts, 1)), tmp_path / "run", label="rl")
    with pytest.raises(InputError, match="no verdicts for label 'base'"):
        tether.compare(store=tmp_path / "run")  # once: "rl vs rl", S = E = 0, exit 0
    with pytest.raises(InputError, match="compares label 'rl' with itself.*--self"):
        tether.compare(store=tmp_path / "run", base_label="rl", rl_label="rl")


def test_identical_run_settings_are_warned_about(tmp_path):
    counts = {f"t{i}": (8, i % 4) for i in range(4)}
    imported_pair(tmp_path, counts)
    store = tether.open_store(tmp_path / "run")
    same = recorded_run(8)
    store.update_manifest("runs", {"base": same, "rl": same})
    warnings = tether.compare(store=tmp_path / "run").warnings
    assert any("sampled with identical settings" in w for w in warnings)
    store.update_manifest("runs", {"base": same, "rl": recorded_run(8, seed=1)})
    assert not any("identical settings" in w for w in tether.compare(store=tmp_path / "run").warnings)


def test_identical_samples_are_warned_about_whatever_the_settings_say(tmp_path):
    """Imported labels have no run settings; the same texts under both labels still say "one model twice"."""
    rows = [{"task_id": f"t{i}", "sample_idx": j, "completion": f"answer {i}.{j}", "correct": j == 0}
            for i in range(6) for j in range(3)]
    tether.import_samples(write_jsonl(tmp_path / "a.jsonl", rows), tmp_path / "run", label="base")
    tether.import_samples(write_jsonl(tmp_path / "b.jsonl", rows), tmp_path / "run", label="rl")
    warnings = tether.compare(store=tmp_path / "run").warnings
    assert any("'base' and 'rl' have identical samples: all 12 first samples" in w for w in warnings)
    rows[4]["completion"] = "another answer"
    tether.import_samples(write_jsonl(tmp_path / "c.jsonl", rows), tmp_path / "other", label="base")
    tether.import_samples(write_jsonl(tmp_path / "b.jsonl", rows[:4] + [dict(rows[4], completion="x")] + rows[5:]),
                          tmp_path / "other", label="rl")
    assert not any("identical samples" in w for w in tether.compare(store=tmp_path / "other").warnings)
