"""Token entropy and perplexity on the lab pair, against an independent computation from raw logits."""

import json
import math

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tether.diagnostics import (
    diagnose,
    load_diagnostics,
    perplexity,
    read_traces,
    sampling_engine,
    token_entropy,
    trace_perplexity,
)
from tether.diagnostics.tokens import Trace, stored_prompts
from tether.errors import InputError
from tether.store import Store

from ..cli_run import tether as cli


@pytest.fixture
def lab_store(quick_demo):
    return Store(quick_demo[0].folder / "store")


def _raw_scores(model_dir: str, prompt: str, completion: str) -> tuple[np.ndarray, np.ndarray]:
    """(log-probs, entropies) of the completion's tokens, straight from the model's logits."""
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([p + c])).logits[0].double()
    probs = torch.softmax(logits, -1)[len(p) - 1 : -1]
    entropy = -(probs * probs.log()).sum(-1)
    return probs.log()[torch.arange(len(c)), torch.tensor(c)].numpy(), entropy.numpy()


def _model_dir(store: Store, label: str) -> str:
    return store.manifest().runs[label].settings.engine.model


def test_token_entropy_matches_raw_logits(lab_store):
    k = 4
    engine = sampling_engine(lab_store, "rl")
    found = token_entropy(lab_store, "rl", engine, k=k, batch=7)
    prompts = stored_prompts(lab_store, "rl")
    import pyarrow.parquet as pq

    samples = pq.read_table(lab_store.root / "samples" / "rl").to_pylist()
    chosen = [s for s in samples if s["sample_idx"] < k and s["completion"]]
    expected = [_raw_scores(_model_dir(lab_store, "rl"), prompts[s["task_id"]], s["completion"])[1].mean()
                for s in chosen]
    overall = found["all"]
    assert overall.exact and overall.samples == len(chosen) and overall.k == k
    assert overall.value == pytest.approx(float(np.mean(expected)), abs=1e-5)
    assert set(found) == {"all", "lab-sums"}


def test_perplexity_is_exp_of_mean_nll(lab_store):
    traces = [Trace("sum/002", "1+1"), Trace("sum/005", "2+3"), Trace("sum/023", "11+12")]
    regions = {"sum/002": "P", "sum/005": "P", "sum/023": "E"}
    found = trace_perplexity(lab_store, "base", sampling_engine(lab_store, "base"), traces, regions)
    prompts = stored_prompts(lab_store, "base")
    nll = {t.task_id: -_raw_scores(_model_dir(lab_store, "base"), prompts[t.task_id], t.trace)[0]
           for t in traces}
    every = np.concatenate(list(nll.values()))
    assert found["all"].value == pytest.approx(math.exp(every.mean()), rel=1e-5)
    assert found["all"].tokens == len(every) == 3 + 3 + 5
    p_only = np.concatenate([nll["sum/002"], nll["sum/005"]])
    assert found["P"].value == pytest.approx(math.exp(p_only.mean()), rel=1e-5)
    assert found["E"].traces == 1 and set(found) == {"all", "P", "E"}


def test_perplexity_helper():
    assert perplexity(0.0, 5) == 1.0
    assert perplexity(2 * math.log(3), 2) == pytest.approx(3.0)
    assert math.isnan(perplexity(1.0, 0))


def test_read_traces_errors_name_the_line(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps({"task_id": "a", "trace": "1+1"}) + "\n{oops\n")
    with pytest.raises(InputError, match=r"traces.jsonl:2: invalid JSON"):
        read_traces(path)
    path.write_text(json.dumps({"task_id": "a"}) + "\n")
    with pytest.raises(InputError, match=r":1: expected an object"):
        read_traces(path)
    with pytest.raises(InputError, match="no such file"):
        read_traces(tmp_path / "missing.jsonl")


def test_traces_of_unknown_tasks_are_refused(lab_store):
    with pytest.raises(InputError, match="e.g. 'nope'"):
        trace_perplexity(lab_store, "base", sampling_engine(lab_store, "base"), [Trace("nope", "1+1")], {})


def test_diagnose_stores_every_metric_and_reads_back_the_newest(lab_store, tmp_path):
    traces = [Trace("sum/002", "1+1"), Trace("sum/023", "11+12")]
    first = diagnose(lab_store, k=8, traces=traces)
    second = diagnose(lab_store, k=8, traces=traces, token_entropy_on=False)
    rows = load_diagnostics(lab_store)
    keys = {(r.model, r.metric, r.benchmark, r.group) for r in rows}
    for label in ("base", "rl"):
        assert {(label, "avg_at_k", "all", "all"), (label, "answer_entropy", "lab-sums", "all"),
                (label, "token_entropy", "all", "all"), (label, "perplexity", "all", "all")} <= keys
    newest = {(r.model, r.metric, r.benchmark, r.group): r.run_id for r in rows}
    assert newest[("base", "avg_at_k", "all", "all")] == second.run_id
    assert newest[("base", "token_entropy", "all", "all")] == first.run_id  # not recomputed the second time
    assert first.value("rl", "perplexity") == pytest.approx(second.value("rl", "perplexity"))


def test_cli_diagnose(lab_store, tmp_path):

    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps({"task_id": "sum/005", "trace": "2+3"}) + "\n")
    out = cli("diagnose", str(lab_store.root), "--k", "8", "--traces", str(traces), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["diagnostics"]
    assert {(r["model"], r["metric"]) for r in rows} >= {("base", "token_entropy"), ("rl", "perplexity")}
    table = cli("diagnose", str(lab_store.root), "--no-token-entropy")
    assert table.returncode == 0 and "avg@32" in table.stdout and "answer entropy" in table.stdout
    one = cli("diagnose", str(lab_store.root), "--label", "rl", "--no-token-entropy", "--json")
    assert one.returncode == 0 and {r["model"] for r in json.loads(one.stdout)["diagnostics"]} == {"rl"}
    bad = cli("diagnose", str(lab_store.root), "--scorer", "nolabel")
    assert bad.returncode == 2 and "LABEL=MODEL" in bad.stderr and "Traceback" not in bad.stderr
