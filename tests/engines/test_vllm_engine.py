"""VLLMEngine (offline `vllm.LLM`) on CPU with vLLM's CPU build, in a subprocess of its own.

vLLM's engine core and its model worker run inside that one process (no multiprocessing, the
"uni" executor): the engine's API is the same, and the test does not pay two more process starts
(each re-imports torch and vLLM, ~20 s of a 2-core machine) nor their teardown."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from tether.engines import Decoding, Request, derive_seed
    from tether.engines.vllm_engine import VLLMEngine
    engine = VLLMEngine(sys.argv[1], dtype="float32", enforce_eager=True, max_model_len=1024, seed=0,
                         distributed_executor_backend="uni")
    decoding = Decoding(temperature=0.8, top_p=0.95, max_tokens=24)
    requests = [Request(f"r{j}", f"Count from {j} to {j + 5}:", tuple(derive_seed(7, j, i) for i in range(3)), decoding)
                for j in range(2)]
    first = {r.request.key: [[c.text, c.n_tokens, c.finish_reason, c.seed] for c in r.completions]
             for r in engine.generate(requests)}
    second = {r.request.key: [[c.text, c.n_tokens, c.finish_reason, c.seed] for c in r.completions]
              for r in engine.generate(list(reversed(requests)))}
    scores = engine.score(["The capital of France is"], [" Paris."])[0]
    sampled = [(f"Count from {j} to {j + 5}:", c) for j, key in enumerate(("r0", "r1")) for c in first[key]]
    raw = engine.sequence_scores([p for p, _ in sampled], [c[0] for _, c in sampled], Decoding(1.0, 1.0),
                                 [c[2] == "stop" for _, c in sampled])
    try:
        engine.sequence_scores(["x"], ["y"], decoding, [False])
        refused = ""
    except Exception as exc:
        refused = str(exc)
    print("RESULT " + json.dumps({"first": first, "second": second, "rendered": engine.render("Hi"),
                                  "logprobs": scores.logprobs.tolist(), "describe": engine.describe(),
                                  "sampled": sampled, "raw": [f.logprobs.tolist() for f in raw],
                                  "raw_ids": [list(f.token_ids) for f in raw], "refused": refused,
                                  "max_context": engine.max_context}), flush=True)
    engine.close()
    os._exit(0)  # vLLM's CPU build can abort in interpreter teardown ("terminate called ..."); the work is done
""")


def test_offline_vllm_engine(smollm2):
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
           "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(smollm2)], capture_output=True, text=True, env=env,
                         timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["first"] == result["second"]  # seeded per sample: order and batching do not matter
    for samples in result["first"].values():
        assert len(samples) == 3 and len({s[0] for s in samples}) > 1
        for text, n_tokens, finish, seed in samples:
            assert text and 1 <= n_tokens <= 24 and finish in ("stop", "length")
    assert result["rendered"].endswith("<|im_start|>assistant\n")
    assert result["max_context"] == 1024  # max_model_len: what tether.sampling.limits holds max_tokens below
    assert len(result["logprobs"]) >= 2 and all(lp <= 0 for lp in result["logprobs"])
    assert result["describe"]["engine"] == "vllm"
    # vLLM's sampled completions scored by vLLM (prompt log-probabilities) and by the transformers engine agree
    # token by token at temperature 1, top_p 1 (the raw model), the EOS token included where a sample ended on it
    from tether.engines import Decoding
    from tether.engines.transformers_engine import TransformersEngine

    local = TransformersEngine(smollm2, dtype="float32")
    prompts, texts = [p for p, _ in result["sampled"]], [c[0] for _, c in result["sampled"]]
    exact = local.sequence_scores(prompts, texts, Decoding(1.0, 1.0), [c[2] == "stop" for _, c in result["sampled"]])
    for vllm_scores, ids, mine in zip(result["raw"], result["raw_ids"], exact):
        assert ids == list(mine.token_ids)
        assert vllm_scores == pytest.approx(mine.logprobs.tolist(), abs=1e-3)
    assert "needs every position's whole next-token distribution: build the engine with full_logprobs" in \
        result["refused"]
