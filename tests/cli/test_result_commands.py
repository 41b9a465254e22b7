"""The commands that read a store and produce results (compare, report, show, likelihood, diagnose, plan,
bound, run, demo, check, convert-gguf) in one vocabulary (docs/cli.md): STORE first, `--base`/`--rl` for
the pair, one JSON object with `--json`, defaults and ranges from the experiment file's sections, and each
old spelling still working with exactly one deprecation line. The library is replaced where only the
command's parsing is under test."""

import inspect
import json
import types

import pytest

from tether import defaults

from ..cli_run import tether
from ..conftest import imported_pair

FAST = ("--bootstrap-reps", "10", "--extrapolate", "0")


def deprecation(out, old: str, new: str) -> None:
    """`old` said deprecated in exactly one line, naming `new`, and nothing else said on stderr."""
    line = f"warning: {old} is deprecated and goes in the next release; use {new}"
    assert out.stderr.count("is deprecated") == 1 and line in out.stderr, out.stderr


@pytest.fixture
def store(tmp_path):
    return imported_pair(tmp_path, {"p1": (8, 6), "s1": (8, 3), "e1": (8, 0), "o1": (8, 0), "p2": (8, 8)})


# -- compare ---------------------------------------------------------------------------------------------


def test_compare_takes_two_sources_as_arguments_and_the_old_flags_with_a_warning(known_pair):
    base, rl, *_ = known_pair
    new = tether("compare", base, rl, "--json", "--no-match-budget", *FAST)
    assert new.returncode == 0 and "deprecated" not in new.stderr, new.stderr
    old = tether("compare", "--base", base, "--rl", rl, "--json", "--no-match-budget", *FAST)
    assert old.returncode == 0, old.stderr
    deprecation(old, "--base PATH --rl PATH", "the BASE_SOURCE RL_SOURCE arguments")
    assert json.loads(old.stdout)["counts"] == json.loads(new.stdout)["counts"] == {"P": 3, "S": 2, "E": 1, "O": 2}
    nothing = tether("compare", "--base", "base", "--rl", "rl")  # labels without a store: not paths
    assert nothing.returncode == 2 and nothing.stderr.startswith("error: give a STORE holding both models, or "
                                                                  "BASE_SOURCE RL_SOURCE"), nothing.stderr


@pytest.mark.parametrize("old, new, value, besides", [("--base-label", "--base", "rl", ("--rl", "base")),
                                                      ("--rl-label", "--rl", "base", ("--base", "rl")),
                                                      ("--reps", "--bootstrap-reps", "20", ())])
def test_compare_old_spellings_work_with_one_line(store, old, new, value, besides):
    given = tether("compare", store, "--json", *FAST[2:], *besides, old, value)
    assert given.returncode == 0, given.stderr
    deprecation(given, old, new)
    expected = tether("compare", store, "--json", *FAST[2:], *besides, new, value)
    assert json.loads(given.stdout) == json.loads(expected.stdout)
    plain = json.loads(tether("compare", store, "--json", *FAST[2:]).stdout)
    if old == "--reps":
        assert json.loads(given.stdout)["settings"]["bootstrap_reps"] == 20
    else:  # the labels swapped
        assert json.loads(given.stdout)["counts"]["S"] == plain["counts"]["E"]


def test_compare_labels_are_base_and_rl(store):
    swapped = json.loads(tether("compare", store, "--json", *FAST, "--base", "rl", "--rl", "base").stdout)
    plain = json.loads(tether("compare", store, "--json", *FAST).stdout)
    assert (swapped["counts"]["S"], swapped["counts"]["E"]) == (plain["counts"]["E"], plain["counts"]["S"])


@pytest.mark.parametrize("flags, message", [
    (["--confidence", "1.5"], "error: --confidence: Input should be less than 1"),
    (["--bootstrap-reps", "5"], "error: --bootstrap-reps: Input should be greater than or equal to 10"),
    (["--extrapolate", "13"], "error: --extrapolate: Input should be less than or equal to 12"),
    (["--intervals", "all"], "error: --intervals: Input should be 'tasks' or 'fixed'"),
    (["--k-grid", "0,2"], "error: --k-grid: Input should be greater than or equal to 1"),
])
def test_compare_and_report_flags_are_checked_by_the_compare_section(store, tmp_path, flags, message):
    for command in (["compare", store], ["report", store, "--out", tmp_path / "r"]):
        out = tether(*command, *flags)
        assert out.returncode == 2 and out.stderr.strip() == message, (command, out.stderr)
    assert not (tmp_path / "r").exists()


def test_compare_and_report_defaults_are_declared_once():
    """The flags' defaults are the [compare] section's, which are CompareOptions' (their owner); the ranges are
    the section's alone (no min/max on the flags)."""
    import typer
    from click import types as click_types

    from tether.cli import app
    from tether.cli.compare import compare_cmd, report_cmd
    from tether.compare import CompareOptions
    from tether.experiment.schema import CompareSection

    assert CompareSection().options() == CompareOptions()
    for command in (compare_cmd, report_cmd):
        flags = inspect.signature(command).parameters
        for name in ("allow_missing", "bootstrap_reps", "confidence", "alpha", "seed", "match_budget", "extrapolate",
                     "intervals"):
            assert flags[name].default == CompareSection.model_fields[name].default == getattr(CompareOptions(), name)
    click = typer.main.get_command(app)
    for name in ("compare", "report", "likelihood", "diagnose"):
        for param in click.commands[name].params:
            assert not isinstance(getattr(param, "type", None), click_types.IntRange | click_types.FloatRange), name


# -- report, show ------------------------------------------------------------------------------------------


def test_show_old_spellings_work_with_one_line(tmp_path_factory):
    from ..compare.show_store import build_store

    shown = build_store(tmp_path_factory.mktemp("show-old"))
    old = tether("show", shown, "chain_sum/42/10", "--json", "--limit", "0")  # a TASK: the old --limit
    assert old.returncode == 0, old.stderr
    deprecation(old, "--limit N for a TASK's completions", "--completions N")
    assert old.stdout == tether("show", shown, "chain_sum/42/10", "--json", "--completions", "0").stdout
    assert len(json.loads(old.stdout)["labels"][0]["completions"]) == 6
    tasks = tether("show", shown, "--region", "P", "--json", "--max-tasks", "1")
    deprecation(tasks, "--max-tasks", "--limit")
    assert tasks.stdout == tether("show", shown, "--region", "P", "--json", "--limit", "1").stdout
    assert json.loads(tasks.stdout)["total"] == 1
    bad = tether("show", shown, "--region", "P", "--limit", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --limit: the first N tasks, N >= 1; got 0"


# -- likelihood, diagnose, plan, bound ----------------------------------------------------------------------


class _Result:
    def to_dict(self):
        return {"fake": True}


@pytest.fixture
def likelihood(monkeypatch):
    calls = []

    def cross_likelihood(store, base, rl, **kwargs):
        calls.append((base, rl, kwargs))
        return _Result()

    monkeypatch.setattr("tether.likelihood.cross_likelihood", cross_likelihood)
    monkeypatch.setattr("tether.likelihood.save_likelihood", lambda result, store: None)
    return calls


def test_likelihood_regions_and_labels(likelihood):
    out = tether("likelihood", "s", "--regions", "e,p", "--base", "b", "--rl", "r", "--json")
    assert out.returncode == 0 and out.stderr == "" and json.loads(out.stdout) == {"fake": True}, out.stderr
    base, rl, kwargs = likelihood[-1]
    assert (base, rl, kwargs["regions"], kwargs["p_tasks"]) == ("b", "r", ("E", "P"), defaults.P_TASKS)
    default = tether("likelihood", "s", "--json")
    assert default.returncode == 0 and likelihood[-1][:2] == ("base", "rl")
    assert likelihood[-1][2]["regions"] == defaults.LIKELIHOOD_REGIONS
    bad = tether("likelihood", "s", "--regions", "E,Q")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --regions: Input should be 'E', 'S' or 'P'"
    bad = tether("likelihood", "s", "--threshold", "1")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --threshold: Input should be less than 1"


@pytest.mark.parametrize("old, new, value, seen", [
    ("--tasks", "--regions", "S", {"regions": ("S",)}),
    ("--base-label", "--base", "b", {"base": "b"}),
    ("--rl-label", "--rl", "r", {"rl": "r"}),
])
def test_likelihood_old_spellings_work_with_one_line(likelihood, old, new, value, seen):
    out = tether("likelihood", "s", old, value, "--json")
    assert out.returncode == 0, out.stderr
    deprecation(out, old, new)
    base, rl, kwargs = likelihood[-1]
    assert {"base": base, "rl": rl, "regions": kwargs["regions"]} | seen == {"base": base, "rl": rl,
                                                                             "regions": kwargs["regions"]}


@pytest.fixture
def diagnosed(monkeypatch):
    """diagnose's parsing only: a store recording no runs, and the engine each label would be scored with."""
    from tether.store.schema import Diagnostic

    built = {}
    opened = types.SimpleNamespace(manifest=lambda: types.SimpleNamespace(runs={}))

    def sampling_engine(store, label, model=None, engine=None, **options):
        built[label] = {"model": model, "engine": engine, **options}

    def diagnose(store, labels, *, engines, k, token_entropy_on, traces, batch, progress):
        for label in labels:
            engines(label)
        return types.SimpleNamespace(run_id="r", rows=[Diagnostic(labels[0], "r", "avg_at_k", "all", "all",
                                                                  float("nan"), 0, k, "", k)])

    monkeypatch.setattr("tether.store.open_store", lambda store: opened)
    monkeypatch.setattr("tether.diagnostics.sampling_engine", sampling_engine)
    monkeypatch.setattr("tether.diagnostics.diagnose", diagnose)
    return built


def test_diagnose_scorer_and_engine_options(diagnosed):
    out = tether("diagnose", "s", "--scorer", "rl=/models/rl", "-o", "dtype=float32", "-o", "batch_size=4", "--json")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert json.loads(out.stdout)["diagnostics"][0]["value"] is None  # NaN is null: the output stays JSON
    assert diagnosed["rl"] == {"model": "/models/rl", "engine": None, "batch_size": 4, "dtype": "float32"}
    assert diagnosed["base"] == {"model": None, "engine": None, "batch_size": 4, "dtype": "float32"}  # every label's
    assert tether("diagnose", "s", "--engine", "vllm").returncode == 0
    assert diagnosed["base"] == {"model": None, "engine": "vllm", "batch_size": defaults.SCORING_BATCH}
    bad = tether("diagnose", "s", "-o", "dtyp=float32")
    assert bad.returncode == 2 and "-o dtyp: not an option of engine 'transformers'; did you mean 'dtype'?" in bad.stderr
    bad = tether("diagnose", "s", "--k", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --k: Input should be greater than or equal to 1"
    bad = tether("diagnose", "s", "--scorer", "nolabel")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --scorer: expected LABEL=MODEL, got 'nolabel'"


@pytest.mark.parametrize("old, new, value, seen", [
    ("--model", "--scorer", "base=/m", {"model": "/m"}),
    ("--device", "-o device=…", "cpu", {"device": "cpu"}),
    ("--threads", "-o threads=…", "2", {"threads": 2}),
    ("--base-url", "-o base_url=…", "http://127.0.0.1:1/v1", {"base_url": "http://127.0.0.1:1/v1"}),
])
def test_diagnose_old_spellings_work_with_one_line(diagnosed, old, new, value, seen):
    out = tether("diagnose", "s", old, value, "--json")
    assert out.returncode == 0, out.stderr
    deprecation(out, old, new)
    assert diagnosed["base"] | seen == diagnosed["base"]


@pytest.fixture
def planned(monkeypatch):
    calls = []

    def plan_budget(store, k, **kwargs):
        calls.append(kwargs)
        return _Result()

    monkeypatch.setattr("tether.compare.budget.plan_budget", plan_budget)
    return calls


def test_plan_adaptive_flags_labels_and_throughput(planned):
    from tether.metrics.adaptive import AdaptiveRule

    out = tether("plan", "s", "--k", "64", "--adaptive-first", "8", "--adaptive-growth", "4", "--adaptive-tol", "0.01",
                 "--base", "b", "--rl", "r", "--json")
    assert out.returncode == 0 and out.stderr == "" and json.loads(out.stdout) == {"fake": True}, out.stderr
    assert planned[-1] == {"rule": AdaptiveRule(8, 4, 0.01), "throughput": defaults.THROUGHPUT, "base_label": "b",
                           "rl_label": "r"}
    assert tether("plan", "s", "--k", "64", "--json").returncode == 0 and planned[-1]["rule"] == AdaptiveRule()
    bad = tether("plan", "s", "--k", "64", "--adaptive-tol", "0.9")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --adaptive-tol: "), bad.stderr


@pytest.mark.parametrize("old, new, value, seen", [
    ("--first", "--adaptive-first", "8", {"first": 8}),
    ("--growth", "--adaptive-growth", "4", {"growth": 4}),
    ("--tol", "--adaptive-tol", "0.01", {"tol": 0.01}),
    ("--base-label", "--base", "b", {"base_label": "b"}),
    ("--rl-label", "--rl", "r", {"rl_label": "r"}),
])
def test_plan_old_spellings_work_with_one_line(planned, old, new, value, seen):
    out = tether("plan", "s", "--k", "64", old, value, "--json")
    assert out.returncode == 0, out.stderr
    deprecation(out, old, new)
    rule = planned[-1]["rule"]
    found = {"first": rule.first, "growth": rule.growth, "tol": rule.tol, **planned[-1]}
    assert found | seen == found


def test_throughput_has_one_default():
    from tether.cli.estimate import plan_cmd
    from tether.cli.run import run_cmd
    from tether.compare.budget import plan_budget
    from tether.experiment.plan import plan_experiment

    for function in (plan_cmd, run_cmd, plan_budget, plan_experiment):
        assert inspect.signature(function).parameters["throughput"].default == defaults.THROUGHPUT


def test_diagnose_and_likelihood_defaults_are_their_sections():
    from tether.cli.estimate import diagnose_cmd, likelihood_cmd
    from tether.experiment.schema import DiagnosticsSection, LikelihoodSection

    flags = inspect.signature(diagnose_cmd).parameters
    for name in ("k", "token_entropy", "batch_size"):
        assert flags[name].default == getattr(DiagnosticsSection(), name)
    flags = inspect.signature(likelihood_cmd).parameters
    assert flags["regions"].default.split(",") == LikelihoodSection().regions
    assert flags["p_tasks"].default == LikelihoodSection().p_tasks


def test_bound_json_gives_the_numbers():
    out = tether("bound", "--k", 8192, "--json")
    payload = json.loads(out.stdout)
    assert payload["given"] == "k" and payload["k"] == 8192 and payload["delta"] == 0.05
    assert payload["epsilon"] == pytest.approx(3.656e-4, rel=1e-3) and payload["epsilon"] < payload["paper_epsilon"]
    back = json.loads(tether("bound", "--epsilon", "3.66e-4", "--json").stdout)
    assert (back["given"], back["k"], back["epsilon"]) == ("epsilon", 8184, 3.66e-4)


# -- check, convert-gguf, run, demo --------------------------------------------------------------------------


def test_check_json(store):
    out = tether("check", store, "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["ok"] is True and payload["problems"] == [] and payload["shards"] >= 2
    (store / "samples" / "base" / "part-x.parquet").write_bytes(b"not parquet")
    bad = tether("check", store, "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["ok"] is False
    assert json.loads(bad.stdout)["problems"][0]["where"].endswith("part-x.parquet")


def test_convert_gguf_writes_to_out_and_the_old_argument_warns(tmp_path, monkeypatch):
    old = tether("convert-gguf", tmp_path / "nope.gguf", tmp_path / "folder")
    assert old.returncode == 2 and "nope.gguf: no such GGUF file" in old.stderr
    deprecation(old, "the OUT argument", "--out FOLDER")
    missing = tether("convert-gguf", tmp_path / "nope.gguf")
    assert missing.returncode == 2 and missing.stderr.strip() == ("error: name a new folder for the converted "
                                                                  "checkpoint with --out FOLDER")
    monkeypatch.setattr("tether.engines.gguf.check_conversion", lambda file, out: None)
    monkeypatch.setattr("tether.engines.gguf.convert_gguf", lambda file, out: out)
    out = tether("convert-gguf", tmp_path / "m.gguf", "--out", tmp_path / "folder", "--json")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert json.loads(out.stdout)["folder"] == str(tmp_path / "folder")


OLD_FILE = ('out = "run"\n[tasks]\nspec = "lab-sums:2-11+lab-sums:20-29"\n[sampling]\nk = 64\nmax_tokens = 100\n'
            '[models.base]\nmodel = "lab:base"\n[models.rl]\nmodel = "lab:rl"\n[likelihood]\ntasks = ["E"]\n')


def test_run_check_json_and_the_old_keys_of_a_file(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(OLD_FILE)
    out = tether("run", path, "--check", "--json")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines == [f"warning: {path}: out = … is deprecated and goes in the next release; use store = …",
                     (f"warning: {path}: likelihood.tasks = … is deprecated and goes in the next release; use "
                      "likelihood.regions = …")]
    plan = json.loads(out.stdout)
    assert plan["store"] == str(tmp_path / "run") and plan["n_tasks"] == 20 and plan["throughput"] == defaults.THROUGHPUT
    assert plan["gpu_hours"] == pytest.approx(2 * 20 * 64 * 100 / defaults.THROUGHPUT / 3600)
    path.write_text(OLD_FILE.replace('out = "run"', 'store = "run"').replace("tasks = [", "regions = ["))
    assert tether("run", path, "--check").stderr == ""


def test_demo_json_is_its_result(quick_demo, monkeypatch):
    result, _ = quick_demo
    monkeypatch.setattr("tether.experiment.demo.run_demo", lambda *args, **kwargs: result)
    out = tether("demo", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["pair"] == result.pair and payload["report"] == str(result.report)
    assert payload["comparison"]["counts"] == result.comparison.counts.as_dict()
    assert payload["store"] == str(result.folder / "store")
