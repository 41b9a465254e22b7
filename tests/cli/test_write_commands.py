"""`tether sample`, `grade`, `import` and `engines`: the store as the first argument, engine options as
``-o KEY=VALUE`` checked by the engine's own schema, `--json` as one object on stdout, the grade options a
file's [grading] makes, and each old spelling: one warning line naming the new one, and the same effect.

The sampling and grading underneath are replaced by recorders where only what the command hands them is
checked (the commands are a few lines over `sample_model` and `grade`; their own tests run them)."""

import json
from dataclasses import dataclass

import pytest

from tether.cli.spellings import ENGINE_FLAGS

from ..cli_run import tether
from ..conftest import write_jsonl

SAMPLE = ("--model", "x", "--tasks", "lab-sums:2-3", "--label", "base", "--k", "2")


@dataclass
class Recorded:
    calls: list

    @property
    def last(self):
        return self.calls[-1]


@pytest.fixture
def sampled(monkeypatch):
    """`tether sample`'s call of `sample_model` (engine, options, store, config ...), and Ray's executor."""
    from tether.experiment import stages
    from tether.sampling import SampleSummary

    found = Recorded([])

    def sample_model(tasks, engine, model, options, store, label, config, executor, *rest):
        found.calls.append({"engine": engine, "options": options, "store": str(store), "config": config,
                            "executor": executor, "tasks": len(tasks)})
        return SampleSummary(label, 1, 0, samples_written=2 * len(tasks), tokens_written=12, tasks=len(tasks))

    monkeypatch.setattr(stages, "sample_model", sample_model)
    monkeypatch.setattr(stages, "ray_executor", lambda address, workers, gpus=0.0: ("ray", address, workers, gpus))
    return found


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


# each old flag of `tether sample`: a value, the engine it is an option of, the option's value after parsing
OLD_FLAGS = {"--base-url": ("http://127.0.0.1:9/v1", "openai", "http://127.0.0.1:9/v1"),
             "--api": ("chat", "openai", "chat"), "--api-key": ("k", "openai", "k"),
             "--concurrency": ("3", "openai", 3), "--n-per-request": ("2", "openai", 2),
             "--tokenizer": ("tok", "openai", "tok"), "--request-timeout": ("7", "openai", 7.0),
             "--batch-size": ("4", "transformers", 4), "--device": ("cpu", "transformers", "cpu"),
             "--dtype": ("float32", "transformers", "float32"), "--threads": ("1", "transformers", 1)}


def test_every_old_engine_flag_is_tested():
    assert set(OLD_FLAGS) == set(ENGINE_FLAGS)


@pytest.mark.parametrize("flag", list(OLD_FLAGS))
def test_an_old_engine_flag_is_its_o_option_with_one_warning(sampled, tmp_path, flag, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    value, engine, parsed = OLD_FLAGS[flag]
    option = ENGINE_FLAGS[flag]
    server = () if option == "base_url" or engine != "openai" else ("-o", "base_url=http://h/v1")
    new = tether("sample", tmp_path / "s", *SAMPLE, "--engine", engine, *server, "-o", f"{option}={value}")
    assert new.returncode == 0 and _warnings(new.stderr) == [], new.stderr
    options = sampled.last["options"]
    old = tether("sample", tmp_path / "s", *SAMPLE, "--engine", engine, *server, flag, value)
    assert old.returncode == 0, old.stderr
    assert _warnings(old.stderr) == [f"warning: {flag} is deprecated and goes in the next release; use -o {option}=…"]
    assert sampled.last["options"] == options and options[option] == parsed


def test_engine_options_are_checked_by_the_engines_schema(sampled, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    out = tether("sample", tmp_path / "s", *SAMPLE, "--engine", "openai", "-o", "base_url=http://h/v1")
    assert out.returncode == 0 and sampled.last["options"] == {"base_url": "http://h/v1", "api_key": "from-env"}
    too_small = "error: engine 'transformers' -o batch_size: Input should be greater than or equal to 1"
    unknown = "error: -o batchsize: not an option of engine 'transformers'; did you mean 'batch_size'?"
    for items, message in ((["-o", "batch-size=0"], too_small), (["-o", "batchsize=4"], unknown),
                           (["-o", "dtype"], "error: -o 'dtype': expected KEY=VALUE"),
                           (["--engine", "openai"], "error: engine 'openai' needs base_url")):
        bad = tether("sample", tmp_path / "t", *SAMPLE, *items)
        assert bad.returncode == 2 and bad.stderr.startswith(message), bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "t").exists()


def test_sample_store_option_and_ray_workers_are_old_spellings(sampled, tmp_path):
    new = tether("sample", tmp_path / "s", *SAMPLE, "--ray", "local", "--workers", "3")
    assert new.returncode == 0 and _warnings(new.stderr) == [], new.stderr
    assert sampled.last["executor"] == ("ray", "local", 3, 0.0) and sampled.last["store"] == str(tmp_path / "s")
    old = tether("sample", *SAMPLE, "--store", tmp_path / "s", "--ray", "local", "--ray-workers", "3")
    assert old.returncode == 0 and _warnings(old.stderr) == [
        "warning: --store is deprecated and goes in the next release; use the STORE argument",
        "warning: --ray-workers is deprecated and goes in the next release; use --workers"], old.stderr
    assert sampled.calls[0] == sampled.calls[1]
    missing = tether("sample", *SAMPLE)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: missing the STORE argument: tether sample STORE ..."
    twice = tether("sample", tmp_path / "s", *SAMPLE, "--store", tmp_path / "t")
    assert twice.returncode == 2 and "the store is given twice" in twice.stderr


def test_sample_adaptive_rule_flags_reach_the_rule(monkeypatch, tmp_path):
    from tether.experiment import stages

    rules = []
    monkeypatch.setattr(stages, "sample_model", lambda *args: rules.append(args[11]) or _adaptive_summary(args[11][0]))
    out = tether("sample", tmp_path / "s", *SAMPLE, "--adaptive", "--adaptive-first", "4", "--adaptive-growth", "4",
                 "--adaptive-tol", "0.01", "--json")
    assert out.returncode == 0, out.stderr
    rule, grading = rules[-1]
    assert (rule.first, rule.growth, rule.tol, rule.regions) == (4, 4, 0.01, False)
    assert grading.deadline == 30.0 and grading.verifier == "auto"  # [grading]'s defaults, as from a file
    payload = json.loads(out.stdout)
    assert payload["adaptive"]["rule"] == {"name": "passk", "first": 4, "growth": 4, "tol": 0.01, "confidence": 0.95}
    assert payload["adaptive"]["rounds"] == [{"end": 4, "tasks": 2}] and payload["samples_skipped"] == 0
    bad = tether("sample", tmp_path / "s", *SAMPLE, "--adaptive", "--adaptive-growth", "1")
    assert bad.returncode == 2 and "error: --adaptive-growth: Input should be greater than or equal to 2" in bad.stderr


def _adaptive_summary(rule):
    from tether.experiment.adaptive import AdaptiveSummary
    from tether.sampling import SampleSummary

    return AdaptiveSummary("base", rule, 2, rounds=[(4, 2)], samples={"a": 2, "b": 2},
                           summaries=[SampleSummary("base", 1, 0, samples_written=4, tokens_written=9, tasks=2)])


def test_sample_json_is_one_object_and_failures_keep_exit_code_1(sampled, tmp_path, monkeypatch):
    out = tether("sample", tmp_path / "s", *SAMPLE, "--json")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and "wrote 4 samples" in out.stderr  # the person's line on stderr
    payload = json.loads(out.stdout)
    assert payload["store"] == str(tmp_path / "s") and payload["label"] == "base" and payload["tasks"] == 2
    assert (payload["samples_written"], payload["tokens_written"], payload["adaptive"]) == (4, 12, None)
    from tether.experiment import stages
    from tether.sampling import SampleSummary

    monkeypatch.setattr(stages, "sample_model", lambda *a: SampleSummary("base", 2, 0, failed=[("b0-s0-2", "boom")]))
    failed = tether("sample", tmp_path / "s", *SAMPLE, "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["failed"] == [{"unit": "b0-s0-2", "error": "boom"}]
    assert "1 units failed" in failed.stderr


def test_engines_lists_every_option_its_engine_takes():
    from tether.engines import ENGINES, options_model

    out = tether("engines", "--json")
    assert out.returncode == 0, out.stderr
    engines = json.loads(out.stdout)["engines"]
    assert list(engines) == list(ENGINES)
    for name, found in engines.items():
        assert [o["name"] for o in found["options"]] == list(options_model(name).model_fields)
        assert found["summary"] and all(o["meaning"] for o in found["options"]), name  # each option says what it is
    openai = {o["name"]: o for o in engines["openai"]["options"]}
    assert openai["base_url"]["required"] and openai["timeout"]["default"] == 120.0
    assert openai["api_key"]["env"] == "OPENAI_API_KEY"
    text = tether("engines", "vllm").stdout
    assert "max_model_len=" in text and "batch_size=" not in text and text.startswith("vllm: ")
    bad = tether("engines", "nope")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: unknown engine 'nope'; choose one of transformers, vllm, openai"


@pytest.fixture
def recorded_grade(monkeypatch):
    from tether import grading
    from tether.grading import GradeSummary

    found = Recorded([])
    monkeypatch.setattr(grading, "grade", lambda store, options, *a, **k: found.calls.append((str(store), options))
                        or GradeSummary())
    return found


def test_grade_flags_make_the_options_a_files_grading_section_makes(recorded_grade, tmp_path):
    """The answer deadline max(30, 6 x timeout) is one rule, from flags and from a file."""
    from tether.experiment.schema import load_experiment

    out = tether("grade", tmp_path / "run", "--timeout", "10", "--workers", "3", "--verifier", "exact,math",
                 "--strict", "--extraction", "strict", "--correct-threshold", "0.5")
    assert out.returncode == 0, out.stderr
    store, from_flags = recorded_grade.last
    assert store == str(tmp_path / "run") and from_flags.deadline == 60.0
    assert from_flags.verifier_options["livebench"] == {"correct_threshold": 0.5}
    (tmp_path / "x.toml").write_text('store = "run"\n[tasks]\nspec = "lab-sums:2-3"\n[sampling]\nk = 2\n'
                                     '[models.base]\nmodel = "x"\n[models.rl]\nmodel = "y"\n[grading]\ntimeout = 10\n'
                                     'workers = 3\nverifier = "exact,math"\nstrict = true\nextraction = "strict"\n'
                                     'correct_threshold = 0.5\n')
    from_file = load_experiment(tmp_path / "x.toml")[0].grading.options()
    assert from_file == from_flags
    assert tether("grade", tmp_path / "run").returncode == 0 and recorded_grade.last[1].deadline == 30.0
    bad = tether("grade", tmp_path / "run", "--timeout", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --timeout: Input should be greater than or equal to 1"


def test_grade_store_option_is_an_old_spelling(recorded_grade, tmp_path):
    assert tether("grade", tmp_path / "run", "--workers", "1").returncode == 0
    old = tether("grade", "--store", tmp_path / "run", "--workers", "1")
    assert old.returncode == 0 and _warnings(old.stderr) == [
        "warning: --store is deprecated and goes in the next release; use the STORE argument"], old.stderr
    assert recorded_grade.calls[0] == recorded_grade.calls[1]


GOLDS = {"a": "2", "b": "5"}


def test_import_then_grade_json_end_to_end(tmp_path):
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"task_id": t, "sample_idx": i, "completion": f"Final answer: {c}"}
                                                 for t, cs in {"a": ["2", "2.0", "3"], "b": ["5"]}.items()
                                                 for i, c in enumerate(cs)])
    imported = tether("import", tmp_path / "run", rows, "--label", "base", "--json")
    assert imported.returncode == 0 and imported.stdout.count("\n") == 1, imported.stderr
    payload = json.loads(imported.stdout)
    assert (payload["rows"], payload["tasks"], payload["labels"], payload["graded"]) == (4, 2, ["base"], False)
    assert payload["store"] == str(tmp_path / "run") and payload["format"] == "tether" and payload["notes"] == []
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [{"id": t, "question": "?", "answer": g} for t, g in GOLDS.items()])
    out = tether("grade", tmp_path / "run", "--tasks", tasks, "--columns", "id=id", "--verifier", "exact,numeric",
                 "--workers", "1", "--json")
    assert out.returncode == 0 and out.stdout.count("\n") == 1, out.stderr
    graded = json.loads(out.stdout)
    tally, = graded["tallies"]
    assert (tally["label"], tally["samples"], tally["correct"], tally["incorrect"]) == ("base", 4, 2, 2)
    assert graded["counted"] == "exact" and graded["ok"] and graded["failed"] == 0
    assert graded["compliance"]["base"]["samples"] == 4 and graded["compliance"]["base"]["correct"] == 2
    assert graded["sets"]["numeric"]["tallies"][0]["correct"] == 3  # "2.0" is 2 to numeric


def test_import_store_option_and_model_are_old_spellings(tmp_path):
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"task_id": "a", "correct": True}, {"task_id": "b", "correct": False}])
    new = json.loads(tether("import", tmp_path / "new", rows, "--label", "base", "--json").stdout)
    old = tether("import", rows, "--store", tmp_path / "old", "--model", "base", "--json")
    assert old.returncode == 0 and _warnings(old.stderr) == [
        "warning: --store is deprecated and goes in the next release; use the STORE argument",
        "warning: --model is deprecated and goes in the next release; use --label"], old.stderr
    moved = {key: value for key, value in json.loads(old.stdout).items() if key not in ("store", "shards")}
    assert moved == {key: value for key, value in new.items() if key not in ("store", "shards")}
    missing = tether("import", tmp_path / "x")
    assert missing.returncode == 2 and missing.stderr.strip() == "error: missing the FILE argument: tether import STORE FILE"
    bad = tether("import", tmp_path / "x", rows, "--verifier", "maths")
    assert bad.returncode == 2 and "--verifier 'maths': not a verifier" in bad.stderr


def test_reset_label_without_an_answer_is_no(tmp_path):
    """No answer (a batch job's closed stdin) declines: exit 2, nothing set aside."""
    import tether as library

    rows = write_jsonl(tmp_path / "old.jsonl", [{"task_id": "sum/002", "completion": "1+1", "correct": True}])
    library.import_samples(rows, tmp_path / "s", label="base")
    out = tether("sample", tmp_path / "s", *SAMPLE, "--reset-label", input="")
    assert out.returncode == 2 and out.stderr.strip().endswith(
        "error: --reset-label not confirmed; nothing changed (add --yes to skip the question)"), out.stderr
    assert not (tmp_path / "s" / "quarantine").exists()


def test_an_experiment_files_ray_workers_is_sampling_workers(tmp_path):
    """[sampling] workers, as `tether sample --workers`; the old key is read for one release, said once."""
    from tether.experiment.schema import load_experiment

    text = ('store = "run"\n[tasks]\nspec = "lab-sums:2-3"\n[sampling]\nk = 2\nray = "auto"\n{}\n'
            '[models.base]\nmodel = "x"\n[models.rl]\nmodel = "y"\n')
    (tmp_path / "new.toml").write_text(text.format("workers = 3"))
    (tmp_path / "old.toml").write_text(text.format("ray_workers = 3"))
    new, _ = load_experiment(tmp_path / "new.toml")
    old, _ = load_experiment(tmp_path / "old.toml")
    assert new.sampling == old.sampling and old.sampling.workers == 3 and new.deprecations == []
    assert old.deprecations == [("sampling.ray_workers = …", "sampling.workers = …")]
