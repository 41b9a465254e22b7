"""Experiment files with several models: each base sampled once, every model compared with its base as a study,
a checkpoint's run and step kept in the manifest, and a model added later the only one sampled."""

import json

import pytest

from tether.errors import InputError
from tether.experiment import load_experiment, run_experiment
from tether.experiment.plan import plan_experiment
from tether.store import open_store
from tether.store.manifest import manifest_bytes, parse_manifest

from ..cli_run import tether

HEAD = """
store = "run"
[tasks]
spec = "{folder}/x.jsonl+{folder}/y.jsonl"  # joined specs are not resolved from the file's folder
columns = "id=id"
template = "{{question}}"
[sampling]
k = 4
temperature = 1.0
max_tokens = 4
sample_block = 4
[models.base]
model = "{model}"
[models.a]
model = "{model}"
template = "plain"
[models.b]
model = "{model}"
temperature = 0.5
run = "grpo"
step = 10
[domains]
x = "Math"
[compare]
bootstrap_reps = 50
[diagnostics]
token_entropy = false
"""


def study_file(folder, model, more: str = ""):
    for name in ("x", "y"):
        (folder / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": f"t{i}", "question": f"{i}+{i}=", "answer": str(2 * i)}) + "\n" for i in range(2)))
    path = folder / "study.toml"
    path.write_text(HEAD.format(model=model, folder=folder) + more)
    return path


def test_a_study_file_samples_each_model_once_and_compares_every_one(tmp_path, tiny_model):
    path = study_file(tmp_path, tiny_model)
    study, store, log = run_experiment(path)
    stages = [(stage, status) for stage, status, _ in log.entries]
    assert stages == [("sample base", "ran"), ("sample a", "ran"), ("sample b", "ran"), ("grade", "ran"),
                      ("compare", "ran"), ("likelihood", "skipped"), ("diagnose", "ran"), ("report", "ran")]
    assert [(c.label, c.base, c.run, c.step) for c in study.children] == [("a", "base", None, None),
                                                                        ("b", "base", "grpo", 10)]
    scopes = [("benchmark", "x"), ("benchmark", "y"), ("domain", "Math"), ("domain", "Non-Math"),
              ("overall", "overall")]
    assert [(c.child, c.scope, c.name) for c in study.cells] == [(child, *s) for child in "ab" for s in scopes]
    assert study.pair is not None and (study.pair.a, study.pair.b) == ("a", "b")  # two children of one base
    # one Holm family of distinct tests: x is the only Math benchmark and y the only Non-Math one, so each domain's
    # cell is its benchmark's test; S and E of 3 distinct scopes per child, and the pair's 5
    assert study.family.tests == 2 * 3 * 2 + 5
    assert [study.cell(child, "domain", "Math").test_keys() for child in "ab"] == [
        study.cell(child, "benchmark", "x").test_keys() for child in "ab"]
    for cell in study.cells:  # every model on the same tasks at the same budget as the base
        assert list(cell.comparison.base.n) == list(cell.comparison.rl.n) == [4] * len(cell.comparison.task_ids)
    assert len(study.cell("b").comparison.task_ids) == 4 and len(study.cell("a", "benchmark", "y").comparison.task_ids) == 2
    manifest = open_store(store).manifest()
    assert manifest.checkpoint("b") == ("grpo", 10) and manifest.checkpoint("a") is None
    assert manifest.runs["b"].settings.decoding.temperature == 0.5
    # a checkpoint samples with seed + step (draws independent from step to step); the others keep [sampling]'s
    assert [manifest.runs[label].settings.seed for label in ("base", "a", "b")] == [0, 0, 10]
    saved = json.loads((store / "compare" / "study.json").read_text())
    assert [row["child"] for row in saved["rows"]] == ["a"] * 5 + ["b"] * 5
    assert (store / "compare" / "study.csv").read_text().count("\n") == 11
    assert "Models by benchmark and domain" in (tmp_path / "report" / "report.html").read_text()  # the study's report

    grown = study_file(tmp_path, tiny_model, f'[models.c]\nmodel = "{tiny_model}"\nseed = 7\nrun = "grpo"\nstep = 20\n')
    out = tether("run", grown, "--json")  # a third model: only it is sampled, and the study has three
    assert out.returncode == 0, out.stderr
    assert "sample base: skipped" in out.stderr and "sample a: skipped" in out.stderr
    assert "sample b: skipped" in out.stderr and "sample c: ran (16 samples written" in out.stderr
    assert "diagnose: ran (avg_at_k of c)" in out.stderr
    result = json.loads(out.stdout)
    assert [c["label"] for c in result["study"]["children"]] == ["a", "b", "c"]
    assert [(r["child"], r["run"], r["step"]) for r in result["rows"] if r["scope"] == "overall"] == [
        ("a", None, None), ("b", "grpo", 10), ("c", "grpo", 20)]
    assert result["pairs"] == [] and [[s["label"] for s in r["steps"]] for r in result["trajectories"]] == [["b", "c"]]
    # every cell's S and E on 3 distinct scopes; run grpo: b and c against the base are their cells, c against b
    # on each of the 3 scopes adds 2
    assert result["family"]["tests"] == 3 * 3 * 2 + 3 * 2
    assert open_store(store).manifest().checkpoint("c") == ("grpo", 20)
    runs = open_store(store).manifest().runs  # b resumed (skipped) with its own seed; c's own seed wins
    assert (runs["b"].settings.seed, runs["c"].settings.seed) == (10, 7)
    shown = tether("run", grown)
    assert shown.returncode == 0 and "Holm over 24 tests" in shown.stdout, shown.stdout


@pytest.mark.parametrize("models,bases,children", [
    ({"base": {}, "rl": {}}, ["base"], {"rl": "base"}),
    ({"base": {}, "other": {}}, ["base"], {"other": "base"}),  # one model compared with base: a pair
    ({"b7": {}, "b1": {}, "ace": {"base": "b7"}, "prorl": {"base": "b1"}, "sky": {"base": "b7"}},
     ["b7", "b1"], {"ace": "b7", "prorl": "b1", "sky": "b7"}),  # several bases (Table 1)
    ({"base": {"base": "root"}, "root": {}, "rl": {"base": "root"}}, ["root"], {"base": "root", "rl": "root"}),
])
def test_each_model_is_a_base_or_compared_with_one(tmp_path, models, bases, children):
    path = tmp_path / "e.toml"
    path.write_text('store = "s"\n[tasks]\nspec = "math500"\n[sampling]\nk = 4\n' + "".join(
        f'[models.{label}]\nmodel = "org/{label}"\n' + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
        for label, keys in models.items()))
    experiment, _ = load_experiment(path)
    assert experiment.bases == bases
    assert {label: experiment.base_of(label) for label in experiment.children} == children


@pytest.mark.parametrize("models,message", [
    ('[models.base]\nmodel = "m"\n', r"models: Value error, models needs a base and at least one model compared "),
    ('[models.rl]\nmodel = "m"\n', r"\[models.rl\] is compared with 'base', which has no \[models.base\]; name "),
    ('[models.base]\nmodel = "m"\n[models.rl]\nmodel = "m"\nbase = "bse"\n',
     r"\[models.rl\] is compared with 'bse', which has no \[models.bse\]$"),
    ('[models.x]\nmodel = "m"\nbase = "x"\n', r"\[models.x\] names itself as its base"),
    ('[models.base]\nmodel = "m"\n[models.mid]\nmodel = "m"\nbase = "base"\n[models.rl]\nmodel = "m"\nbase = "mid"\n',
     r"\[models.mid\] is the base of rl, so it cannot name a base itself"),
    ('[models.base]\nmodel = "m"\n[models.mid]\nmodel = "m"\n[models.rl]\nmodel = "m"\nbase = "mid"\n',
     r"\[models.base\] is a base no model is compared with"),
    ('[models.base]\nmodel = "m"\nbase = "root"\n[models.root]\nmodel = "m"\n[models.rl]\nmodel = "m"\n',
     r"\[models.rl\] is compared with 'base', which is itself compared with 'root'"),
    ('[models.base]\nmodel = "m"\n["models"."grpo@30"]\nmodel = "m"\n',
     r"\[models.grpo@30\]: model label 'grpo@30' is not allowed: use 1-64 letters, digits"),
    ('[models.base]\nmodel = "m"\n[models."../x"]\nmodel = "m"\n', r"model label '../x' is not allowed"),
    ('[models.base]\nmodel = "m"\n[models.rl]\nmodel = "m"\nstep = 30\n',
     r"models.rl: Value error, give run and step together"),
    ('[models.base]\nmodel = "m"\n[models.rl]\nmodel = "m"\nrun = "dapo"\nstep = -1\n',
     r"models.rl.step: Input should be greater than or equal to 0"),
    ('[models.base]\nmodel = "m"\n[models.rl]\nmodel = "m"\nrun = "dapo"\nstep = "30"\n',
     r"models.rl.step: Input should be a valid integer"),
    ('[models.base]\nmodel = "m"\n[models.rl]\nmodel = "m"\n[domains]\nmath500 = ""\n', r"domains.math500: is empty"),
])
def test_bad_model_sections_are_one_line(tmp_path, models, message):
    path = tmp_path / "e.toml"
    path.write_text('store = "s"\n[tasks]\nspec = "math500"\n[sampling]\nk = 4\n' + models)
    with pytest.raises(InputError, match=message):
        load_experiment(path)


def test_check_plans_every_model_of_a_study(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('store = "s"\n[tasks]\nspec = "lab-sums:2-11"\n[sampling]\nk = 8\nmax_tokens = 10\n'
                    '[models.base]\nmodel = "lab:base"\n[models.rl-30]\nmodel = "lab:rl"\nrun = "grpo"\nstep = 30\n'
                    '[models.rl-60]\nmodel = "lab:rl"\ntemperature = 0.3\nrun = "grpo"\nstep = 60\n')
    plan = plan_experiment(path, throughput=100)
    assert [(m.label, m.base, m.step, m.temperature) for m in plan.models] == [
        ("base", None, None, 0.6), ("rl-30", "base", 30, 0.6), ("rl-60", "base", 60, 0.3)]
    assert plan.stages[:4] == ["sample base", "sample rl-30", "sample rl-60", "grade (auto)"]
    assert "compare (a study)" in plan.stages and "report" in plan.stages
    assert plan.diagnose.tokens == 3 * 10 * 8 * 10 and plan.to_dict()["tokens"] == 3 * 10 * 8 * 10
    out = tether("run", path, "--check")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, out.stderr
    assert "compared: rl-30 (run grpo, step 30) with base; rl-60 (run grpo, step 60) with base" in text
    assert "all 3 models 2.40k tokens" in text and "of each of the 3 models (80 each)" in text
    path.write_text(path.read_text().split("[models.rl-60]")[0])
    assert "compare (a study)" not in plan_experiment(path).stages and "report" in plan_experiment(path).stages
    path.write_text(path.read_text() + '[domains]\nlab-sums = "Arithmetic"\n')  # one pair grouped: a study
    assert "compare (a study)" in plan_experiment(path).stages


def test_a_checkpoint_is_kept_in_the_manifest_and_old_manifests_read_as_before():
    from tether.store.manifest import new_manifest

    run = {"settings": {"engine": {"engine": "lab"}, "decoding": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 4},
                        "seed": 0, "task_block": 8, "sample_block": 4, "n_tasks": 2, "prompts_digest": "ab"}, "k": 4}
    manifest = new_manifest()
    manifest.runs = parse_manifest(json.dumps({"schema_version": manifest.schema_version, "runs": {"rl": run}})
                                   .encode(), "m").runs
    before = manifest_bytes(manifest)
    assert b"checkpoint" not in before and manifest.checkpoint("rl") is None
    manifest.mark_checkpoint("rl", "dapo", 30)
    manifest.mark_checkpoint("never-sampled", "dapo", 60)  # no run to mark
    again = parse_manifest(manifest_bytes(manifest), "m")
    assert again.checkpoint("rl") == ("dapo", 30) and again.checkpoint("never-sampled") is None
    bad = json.loads(manifest_bytes(manifest))
    bad["runs"]["rl"]["checkpoint"]["step"] = "30"
    with pytest.raises(Exception, match=r"runs.rl.checkpoint.step must be an integer"):
        parse_manifest(json.dumps(bad).encode(), "m")


def test_the_example_study_file_plans_the_checkpoint_table():
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / "paper" / "dapo-1.5b-checkpoints.study.toml"
    plan = plan_experiment(path, throughput=3000, mean_tokens=4000)
    assert [(m.label, m.base, m.step) for m in plan.models] == [("base", None, 0)] + [
        (f"dapo-{step}", "base", step) for step in range(30, 301, 30)]
    assert [m.seed for m in plan.models] == [0, *range(30, 301, 30)]  # each checkpoint: seed + step
    assert plan.n_tasks == 1547 and plan.k == 256 and plan.diagnose is None
