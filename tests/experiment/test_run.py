"""`tether run`: config validation with clear messages, stages that resume or skip, the CLI."""

import json
import re
from pathlib import Path

import pytest

from tether.errors import InputError
from tether.experiment import load_experiment, run_experiment

from ..cli_run import tether

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_experiment(folder: Path, model: Path, **overrides) -> Path:
    (folder / "tasks.jsonl").write_text("".join(
        json.dumps({"id": f"t{i}", "question": f"{i}+{i}=", "answer": str(2 * i)}) + "\n" for i in range(3)))
    text = f"""
store = "run"
[tasks]
spec = "tasks.jsonl"
columns = "id=id"
template = "{{question}}"
[sampling]
k = {overrides.get("k", 8)}
temperature = 1.0
max_tokens = 5
sample_block = 4
[models.base]
model = "{model}"
[models.rl]
model = "{model}"
template = "plain"
[compare]
bootstrap_reps = 100
"""
    path = folder / "exp.toml"
    path.write_text(text)
    return path


def test_stages_run_then_skip(tmp_path, tiny_model):
    path = write_experiment(tmp_path, tiny_model)
    path.write_text(path.read_text() + "[likelihood]\nenabled = true\nregions = ['E', 'S', 'P']\n")
    result, store, log = run_experiment(path)
    assert store == tmp_path / "run"
    assert [(stage, status) for stage, status, _ in log.entries] == [
        ("sample base", "ran"), ("sample rl", "ran"), ("grade", "ran"), ("compare", "ran"), ("likelihood", "ran"),
        ("diagnose", "ran"), ("report", "ran")]
    assert (store / "compare" / "likelihood.json").exists()
    assert sum(result.counts.as_dict().values()) == 3 and list(result.base.n) == [8, 8, 8]
    assert (store / "compare" / "compare.json").exists()
    assert (tmp_path / "report" / "report.html").exists() and (tmp_path / "report" / "summary.json").exists()
    _, _, again = run_experiment(path)
    assert [status for stage, status, _ in again.entries if stage != "compare" and stage != "report"] == [
        "skipped"] * 5
    grown = write_experiment(tmp_path, tiny_model, k=12)
    grown.write_text(grown.read_text().replace("bootstrap_reps = 100", 'bootstrap_reps = 100\nself = "rl"'))
    result, _, log = run_experiment(grown)
    assert log.entries[0][1] == "ran" and list(result.rl.n) == [12, 12, 12]
    saved = json.loads((store / "compare" / "compare.json").read_text())
    assert result.self_comparison.label == "rl" and saved["chance"]["self"]["samples_per_half"] == 6


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda t: t.replace("k = 8", "k = 0"), r"sampling.k: Value error, must be >= 1, got 0"),
        (lambda t: t.replace("temperature = 1.0", "temprature = 1.0"), r"sampling.temprature: Extra inputs"),
        (lambda t: t.replace('[models.base]\nmodel', '[models.root]\nmodel'),
         r"models: Value error, \[models.root\] is compared with 'base', which has no \[models.base\]"),
        (lambda t: t.replace('[models.base]\nmodel = ', '[models.base]\nengine = "openai"\nmodel = '),
         r"models.base: Value error, engine 'openai' needs base_url"),
        (lambda t: t.replace('[models.base]\nmodel = ', '[models.base]\nconcurrency = 4\nmodel = '),
         r"models.base: Value error, engine 'transformers' concurrency: Extra inputs are not permitted"),
        (lambda t: t.replace('[models.base]\nmodel = ', '[models.base]\nbatch_size = "many"\nmodel = '),
         r"engine 'transformers' batch_size: Input should be a valid integer"),
        (lambda t: t.replace('[models.base]\nmodel = ', '[models.base]\nengine = "hf2"\nmodel = '),
         r"unknown engine 'hf2'; choose one of transformers, vllm, openai"),
        (lambda t: t + "\n[broken", "invalid TOML"),
        (lambda t: t + '\n[grading]\nverifier = "bogus"', r"grading.verifier: Value error, unknown verifier 'bogus'"),
        (lambda t: t.replace('columns = "id=id"', 'columns = "id=id"\nverifier = "bogus"'),
         r"tasks.verifier: Value error, unknown verifier 'bogus'"),
        (lambda t: t.replace("bootstrap_reps = 100", "bootstrap_reps = 100\nk_grid = [0, 64]"),
         r"compare.k_grid.0: Input should be greater than or equal to 1"),
        (lambda t: t.replace("k = 8", 'k = "2"'), r"sampling.k: Input should be a valid integer"),
        (lambda t: t.replace("temperature = 1.0", "temperature = true"), r"sampling.temperature: Input should be a valid number"),
        (lambda t: t + '\n[models.extra]\nmodel = "x"\nbase = "bse"', r"\[models.extra\] is compared with 'bse', which has no"),
        (lambda t: t.replace("temperature = 1.0", "temperature = inf"),
         r"sampling.temperature: Value error, must be a finite number >= 0, got inf"),
        (lambda t: t.replace('[models.rl]\n', '[models.rl]\ntemperature = nan\n'),
         r"models.rl.temperature: Value error, must be a finite number >= 0, got nan"),
        (lambda t: t.replace("k = 8", "k = 1_000_000_000_000"), r"sampling.k: Value error, must be at most 9,999,999"),
        (lambda t: t.replace("max_tokens = 5", "max_tokens = 1_000_000_000_000_000"),
         r"sampling: Value error, max_tokens 1,000,000,000,000,000: a unit of 8 tasks x 4 samples"),
        (lambda t: t.replace('store = "run"', 'store = ""'), r"exp.toml: store: is empty; name a folder"),
        (lambda t: t.replace('store = "run"', 'store = "run"\nout = "run"'),
         r"exp.toml: \(top level\): .*give store only \(out is its old name\)"),
        (lambda t: t + '\n[report]\nout = "  "', r"report.out: is empty"),
        (lambda t: t.replace('spec = "tasks.jsonl"', 'spec = ""'), r"tasks.spec: is empty"),
        (lambda t: t + '\n[grading]\nverifier = ["auto", "bogus"]', r"grading.verifier: .*unknown verifier 'bogus'"),
        (lambda t: t + '\n[grading]\nverifier = " , "', r"grading.verifier: .*name at least one verifier"),
        (lambda t: t + '\n[grading]\nverifier = []', r"grading.verifier: .*name at least one verifier"),
        (lambda t: t.replace("bootstrap_reps = 100", 'bootstrap_reps = 100\nintervals = "fixd"'),
         r"exp.toml: compare.intervals: Input should be 'tasks' or 'fixed'$"),
    ],
)
def test_bad_configs_are_one_clear_line(tmp_path, tiny_model, edit, message):
    path = write_experiment(tmp_path, tiny_model)
    path.write_text(edit(path.read_text()))
    with pytest.raises(InputError, match=message):
        load_experiment(path)


@pytest.mark.parametrize("given", ['"auto, exact"', '["auto", "exact", "auto"]'])
def test_grading_takes_several_verdict_sets_and_compare_its_intervals(tmp_path, tiny_model, given):
    path = write_experiment(tmp_path, tiny_model)
    path.write_text(path.read_text().replace("bootstrap_reps = 100", 'bootstrap_reps = 100\nintervals = "fixed"')
                    + f"[grading]\nverifier = {given}\n")
    experiment, _ = load_experiment(path)
    grading = experiment.grading.options()
    assert grading.verifier == "auto" and grading.also == ("exact",)
    assert experiment.compare.options().intervals == "fixed"
    default, _ = load_experiment(write_experiment(tmp_path, tiny_model))
    assert default.grading.options().also == () and default.compare.options().intervals == "tasks"


def test_a_run_grades_every_verdict_set_and_compares_them(tmp_path, tiny_model):
    path = write_experiment(tmp_path, tiny_model, k=2)
    path.write_text(path.read_text().replace("bootstrap_reps = 100", 'bootstrap_reps = 100\nintervals = "fixed"')
                    + '[grading]\nverifier = ["auto", "exact"]\n[diagnostics]\nenabled = false\n'
                    '[report]\nenabled = false\n')
    result, store, log = run_experiment(path)
    assert log.grading.counted == "auto" and list(log.grading.sets) == ["exact"]
    assert [s.name for s in result.sensitivity.sets] == ["auto", "exact"] and result.options.intervals == "fixed"
    saved = json.loads((store / "compare" / "compare.json").read_text())
    assert [s["name"] for s in saved["sensitivity"]["sets"]] == ["auto", "exact"]
    assert saved["settings"]["intervals"] == "fixed"


def test_files_that_are_no_toml_text_are_one_line(tmp_path, tiny_model):
    path = write_experiment(tmp_path, tiny_model)
    path.write_bytes(path.read_bytes().replace(b'store = "run"', b'store = "r\xffn"'))
    with pytest.raises(InputError, match=r"exp.toml: not valid UTF-8 \(invalid start byte at byte \d+\); TOML files"):
        load_experiment(path)
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(InputError, match=r"exp.toml: arrays or tables nested too deeply to read"):
        load_experiment(path)
    out = tether("run", path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "nested too deeply" in out.stderr
    assert not (tmp_path / "run").exists()


def test_bundled_example_config_is_valid():
    experiment, root = load_experiment(EXAMPLES / "math500.toml")
    assert experiment.sampling.k == 4096 and experiment.models["base"].engine == "vllm"
    assert root == EXAMPLES
    coding, _ = load_experiment(EXAMPLES / "humaneval-smollm2.toml")
    assert coding.tasks.spec == "humaneval" and coding.tasks.limit == 10 and coding.sampling.k == 16


def test_cli_run(tmp_path, tiny_model):
    path = write_experiment(tmp_path, tiny_model)
    out = tether("run", path, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["n_tasks"] == 3
    assert "sample base: ran" in out.stderr and "diagnose: ran" in out.stderr and "report: ran" in out.stderr
    # the grade stage's summary, with each model's format compliance, on stderr (stdout is the one JSON object)
    assert "Grading" in out.stderr and "base: no format requested; answers found by" in out.stderr
    solved = sum(n for region, n in result["counts"].items() if region != "O")
    assert ("every one of the 3 tasks is out of support (O)" in out.stderr) is (solved == 0)
    for label in ("base", "rl"):  # a random tiny model: a warning for a model without a correct sample
        correct = re.search(rf"^{label}: no format requested; .*; (\d+) of 24 correct$", out.stderr, re.MULTILINE)
        assert (f"warning: {label}: 0 of 24 completions correct" in out.stderr) is (correct.group(1) == "0")
    bad = tether("run", tmp_path / "missing.toml")
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {tmp_path / 'missing.toml'}: no such experiment file"


def test_an_object_storage_out_stays_a_url(tmp_path):
    from tether.experiment.run import store_location

    assert store_location(tmp_path, "s3://bucket/run") == "s3://bucket/run"
    assert store_location(tmp_path, "run") == tmp_path / "run"


def test_every_paper_experiment_file_is_valid_and_planned(tmp_path):
    """examples/paper/: each file validates (schema, engine options, task specs) and plans its cost offline:
    the math files hold the six benchmarks' 1,547 tasks at k = 8192."""
    from tether.experiment.plan import plan_experiment

    files = sorted((Path(__file__).parents[2] / "examples" / "paper").glob("*.toml"))
    files = [path for path in files if not path.name.endswith(".study.toml")]  # studies: tests/experiment/test_study_file.py
    assert len(files) >= 8
    for path in files:
        plan = plan_experiment(path, throughput=2000, mean_tokens=4000)
        assert not plan.notes and [m.label for m in plan.models] == ["base", "rl"]
        if path.name.endswith(".math.toml"):
            assert plan.n_tasks == 1547 and plan.k == 8192 and len(plan.tasks) == 6
            assert plan.models[0].samples == 1547 * 8192 and plan.models[1].expected_tokens == 1547 * 8192 * 4000
            assert plan.gpu_hours(plan.models[0].expected_tokens) == pytest.approx(1547 * 8192 * 4000 / 2000 / 3600)


def test_run_check_prints_the_plan_and_loads_nothing(tmp_path):
    experiment = tmp_path / "e.toml"
    experiment.write_text('store = "run"\n[tasks]\nspec = "lab-sums:2-11+lab-sums:20-29"\n[sampling]\nk = 64\n'
                          'max_tokens = 100\n[models.base]\nmodel = "lab:base"\n[models.rl]\nmodel = "./nowhere"\n')
    out = tether("run", experiment, "--check")
    assert out.returncode == 2 and "model ./nowhere: no such folder" in out.stderr
    experiment.write_text(experiment.read_text().replace('"./nowhere"', '"lab:rl"'))
    out = tether("run", experiment, "--check", "--throughput", "100")
    assert out.returncode == 0, out.stderr
    assert "tasks: 20 = lab-sums:2-11 (10), lab-sums:20-29 (10)" in out.stdout
    assert "both models 256.00k tokens" in out.stdout and "0.7 GPU hours at 100 generated tokens/s" in out.stdout
    assert not (tmp_path / "run").exists()
