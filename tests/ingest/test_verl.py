"""Importing verl's validation dumps: files written by verl 0.9.1's own trainer code (verl_files/README.md)."""

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tether.errors import InputError
from tether.ingest import HarnessOptions, detect_format, import_samples
from tether.store import open_store

from ..cli_run import tether as cli

FILES = Path(__file__).parent / "verl_files"
GSM8K = FILES / "gsm8k-grpo"  # steps 0, 10, 20: 8 prompts x 4 responses; score and acc 0/1
DAPO = FILES / "dapo"  # step 40: 3 prompts x 4 responses; score +-1, acc true/false, pred


def lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def task_of(record, benchmark="verl"):
    return f"{benchmark}/{hashlib.sha256(record['input'].encode()).hexdigest()[:16]}"


def rows(store, label, columns="s.task_id, s.sample_idx, s.completion, v.answer, v.correct"):
    return duckdb.sql(f"""SELECT {columns} FROM read_parquet('{store}/samples/{label}/*.parquet') s
        JOIN read_parquet('{store}/verdicts/{label}/*.parquet') v USING (task_id, sample_idx) ORDER BY ALL""").fetchall()


@pytest.fixture(scope="module")
def gsm8k_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("verl") / "s"
    return store, import_samples(GSM8K, store)


def test_the_dumps_are_told_apart_from_other_files():
    assert [detect_format(p) for p in (GSM8K, GSM8K / "10.jsonl", DAPO / "40.jsonl")] == ["verl"] * 3


def test_a_run_is_one_label_per_step_with_its_step_in_the_manifest(gsm8k_store):
    """The folder's name is the run; each step file a label; each prompt a task; its 4 responses the budget;
    verl's acc (0/1 here, = score) the verdict; the ground truth and prompt stored as the task."""
    store, summary = gsm8k_store
    assert summary.format == "verl" and summary.graded and summary.rows == 96 and summary.tasks == 8
    assert summary.labels == ["gsm8k-grpo-0", "gsm8k-grpo-10", "gsm8k-grpo-20"]
    assert "steps 0, 10, 20 as labels gsm8k-grpo-<step>; 8 prompts x 4 responses" in summary.notes[0]
    manifest = open_store(store).manifest()
    assert [manifest.checkpoint(label) for label in summary.labels] == [("gsm8k-grpo", s) for s in (0, 10, 20)]
    for step in (0, 10, 20):
        expected, seen = [], {}
        for record in lines(GSM8K / f"{step}.jsonl"):
            task = task_of(record)
            expected.append((task, seen.get(task, 0), record["output"], None, record["acc"] == 1))
            seen[task] = seen.get(task, 0) + 1
        assert rows(store, f"gsm8k-grpo-{step}") == sorted(expected)
    first = lines(GSM8K / "0.jsonl")[0]
    tasks = duckdb.sql(f"SELECT task_id, benchmark, prompt, reference FROM read_parquet('{store}/tasks/gsm8k-grpo-20/*"
                       ".parquet') ORDER BY ALL").fetchall()
    assert len(tasks) == 8 and (task_of(first), "verl", json.dumps(first["input"]),
                                json.dumps({"answer": first["gts"]})) in tasks


def test_importing_the_folder_again_adds_only_the_new_steps(tmp_path):
    """During training the folder grows: a second import brings the new step and leaves the others."""
    folder = tmp_path / "grpo"
    folder.mkdir()
    for step in (0, 10):
        shutil.copy(GSM8K / f"{step}.jsonl", folder)
    assert import_samples(folder, tmp_path / "s").labels == ["grpo-0", "grpo-10"]
    shutil.copy(GSM8K / "20.jsonl", folder)
    again = import_samples(folder, tmp_path / "s")
    assert again.labels == ["grpo-20"] and again.rows == 32
    assert "already in the store, left as they are: grpo-0, grpo-10" in again.notes
    assert open_store(tmp_path / "s").manifest().checkpoint("grpo-20") == ("grpo", 20)
    nothing = import_samples(folder, tmp_path / "s")
    assert nothing.rows == 0 and nothing.labels == []


def test_one_step_file_and_a_run_name(tmp_path):
    summary = import_samples(GSM8K / "10.jsonl", tmp_path / "s", "dapo-7b", harness=HarnessOptions(benchmark="gsm8k"))
    assert summary.labels == ["dapo-7b-10"] and summary.rows == 32
    assert open_store(tmp_path / "s").manifest().checkpoint("dapo-7b-10") == ("dapo-7b", 10)
    assert rows(tmp_path / "s", "dapo-7b-10", "s.task_id")[0][0].startswith("gsm8k/")
    with pytest.raises(InputError, match="not allowed"):
        import_samples(GSM8K, tmp_path / "t", "grpo@10")


def test_dapo_rewards_are_graded_by_acc_not_by_the_signed_score(tmp_path):
    """DAPO's math reward scores -1/+1 with acc true/false and pred the extracted answer: acc is the verdict and
    pred the answer; naming score (not 0/1) needs a threshold."""
    summary = import_samples(DAPO, tmp_path / "s")
    assert summary.graded and summary.labels == ["dapo-40"]
    assert "correct = verl's 'acc' (its reward function's accuracy)" in summary.notes
    got = rows(tmp_path / "s", "dapo-40", "s.task_id, s.sample_idx, v.answer, v.correct")
    records = lines(DAPO / "40.jsonl")
    assert sorted((r["pred"], r["acc"]) for r in records) == sorted((a, c) for _, _, a, c in got)
    assert sum(c for *_, c in got) == 8
    with pytest.raises(InputError, match=r"40\.jsonl:2: 'score' is -1\.0, not 0/1; --correct-threshold T"):
        import_samples(DAPO, tmp_path / "x", harness=HarnessOptions(metric="score"))
    scored = import_samples(DAPO, tmp_path / "t", harness=HarnessOptions(correct_threshold=0.5))
    assert "correct = verl's 'score' >= 0.5" in scored.notes
    assert rows(tmp_path / "t", "dapo-40", "s.task_id, s.sample_idx, v.correct") == [r[:2] + r[3:] for r in got]


def test_scores_other_than_0_1_come_in_ungraded_unless_a_threshold_is_named(tmp_path):
    """A reward with a format score (0.1 for a well-formed wrong answer; verl's reward loop sets acc = score
    for a float reward): ungraded, with gts kept for tether grade; --correct-threshold grades score >= T."""
    records = lines(GSM8K / "0.jsonl")
    for r in records:
        r["score"] = r["reward"] = r["acc"] = 1.0 if r["acc"] == 1 else 0.1
    folder = write(tmp_path / "fmt" / "0.jsonl", records).parent
    plain = import_samples(folder, tmp_path / "s")
    assert not plain.graded and any("not all 0/1 (0.1 at" in n and "--correct-threshold" in n for n in plain.notes)
    assert not (tmp_path / "s" / "verdicts").exists()
    assert (tmp_path / "s" / "tasks" / "fmt-0").is_dir()
    graded = import_samples(folder, tmp_path / "t", harness=HarnessOptions(correct_threshold=0.5))
    assert graded.graded and sum(c for (c,) in rows(tmp_path / "t", "fmt-0", "v.correct")) == sum(
        r["score"] == 1.0 for r in records)


def test_an_id_field_names_the_tasks(tmp_path):
    """--columns id=KEY: a field the reward function put in the dump (verl copies every extra info) as task id."""
    records = lines(GSM8K / "0.jsonl")
    for i, r in enumerate(records):
        r["index"] = i // 4
    write(tmp_path / "run" / "0.jsonl", records)
    summary = import_samples(tmp_path / "run", tmp_path / "s", harness=HarnessOptions(id_key="index"))
    assert sorted({t for (t,) in rows(tmp_path / "s", "run-0", "s.task_id")}) == [f"verl/{i}" for i in range(8)]
    assert summary.tasks == 8
    with pytest.raises(InputError, match=r"0\.jsonl:1: no id in 'uid' \(--columns id=uid\)"):
        import_samples(tmp_path / "run", tmp_path / "t", harness=HarnessOptions(id_key="uid"))


def _changed(tmp_path, change, name="0.jsonl"):
    records = lines(GSM8K / "0.jsonl")
    change(records)
    return write(tmp_path / "run" / name, records)


@pytest.mark.parametrize("change, message", [
    (lambda rs: rs[2].pop("step"), r"0\.jsonl:3: not a line of verl's validation dump: no 'step'"),
    (lambda rs: rs[4].update(step=10), r"0\.jsonl:5: step 10 in a file of step 0 \(its first line's\)"),
    (lambda rs: rs[0].update(score="1.0"), r"0\.jsonl:1: verl's 'score' must be a finite number, got '1.0'"),
    (lambda rs: rs[1].update(output=None), r"0\.jsonl:2: verl's 'output' must be a string, got NoneType"),
    (lambda rs: rs.pop(9), r"0\.jsonl:9: this prompt has 3 responses and the file's first 4"),
    (lambda rs: [r.update(step=5) for r in rs], r"0\.jsonl:1: step 5, but the file is named for step 0"),
])
def test_bad_dumps_are_one_line_naming_file_and_line(tmp_path, change, message):
    with pytest.raises(InputError, match=message):
        import_samples(_changed(tmp_path, change).parent, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_bad_folders_and_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no verl validation files here"):
        import_samples(tmp_path / "empty", tmp_path / "s")
    shutil.copytree(GSM8K, tmp_path / "two n")
    records = [r for i, r in enumerate(lines(GSM8K / "20.jsonl")) if i % 4 != 3]  # 3 responses per prompt
    write(tmp_path / "two n" / "20.jsonl", records)
    with pytest.raises(InputError, match=r"the folder's name 'two n' cannot name the run's labels"):
        import_samples(tmp_path / "two n", tmp_path / "s")
    with pytest.raises(InputError, match=r"20\.jsonl: 3 responses per prompt, but .*0\.jsonl has 4"):
        import_samples(tmp_path / "two n", tmp_path / "s", "run")
    write(tmp_path / "two n" / "20.jsonl", lines(GSM8K / "20.jsonl")[:16])  # cut at a prompt's end: being written
    with pytest.raises(InputError, match=r"20\.jsonl: 4 prompts, 4 of them among the 8 of .*0\.jsonl; verl validates "
                                         r"the same prompts at every step: is this file still being written\?"):
        import_samples(tmp_path / "two n", tmp_path / "s", "run")
    assert not (tmp_path / "s").exists()
    tether_rows = write(tmp_path / "rows.jsonl", [{"task_id": "a", "correct": True}])
    with pytest.raises(InputError, match="--correct-threshold and --columns id= read verl's validation dumps; this "
                                         "is a tether file"):
        import_samples(tether_rows, tmp_path / "s", "base", harness=HarnessOptions(correct_threshold=0.5))


def test_a_run_imported_and_compared_as_a_study_gives_its_trajectory(tmp_path):
    """End to end on the command line: the three steps imported, then `tether compare STORE --rl 'run-*'`
    against step 0 gives the training run's trajectory (step 20 lost one prompt the base solved, gained one)."""
    store = tmp_path / "s"
    out = cli("import", store, GSM8K, "--label", "run", "--benchmark", "gsm8k")
    assert out.returncode == 0, out.stderr
    assert "imported 96 graded samples of 8 tasks from verl's validation dumps (run-0, run-10, run-20)" in out.stdout
    compared = cli("compare", store, "--base", "run-0", "--rl", "run-*", "--json")
    assert compared.returncode == 0, compared.stderr
    (run,) = json.loads(compared.stdout)["trajectories"]
    assert run["run"] == "run" and run["base"] == "run-0" and run["base_step"] == 0
    steps = {s["step"]: s for s in run["steps"]}
    assert sorted(steps) == [10, 20]
    assert steps[10]["against_base"]["counts"] == {"P": 5, "S": 0, "E": 0, "O": 3}
    assert steps[20]["against_base"]["counts"] == {"P": 4, "S": 1, "E": 1, "O": 2}
    assert steps[20]["previous"] == "run-10" and steps[20]["against_previous"]["counts"]["S"] == 1
