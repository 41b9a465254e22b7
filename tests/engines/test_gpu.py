"""TransformersEngine on a CUDA GPU (skipped, with the reason shown, where there is none)."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)"),
]


def test_float32_on_gpu_is_batch_invariant_and_matches_cpu(tiny_model):
    from tether.engines import Decoding, Request, derive_seed
    from tether.engines.transformers_engine import TransformersEngine

    decoding = Decoding(temperature=1.0, top_p=0.95, max_tokens=16)
    requests = [Request(f"t{j}", f"{j}+", tuple(derive_seed(j, i) for i in range(8)), decoding) for j in range(4)]
    gpu = TransformersEngine(tiny_model, device="cuda", dtype="float32", batch_size=32)
    small = TransformersEngine(tiny_model, device="cuda", dtype="float32", batch_size=5)
    cpu = TransformersEngine(tiny_model, device="cpu", batch_size=32)
    results = [{r.request.key: [c.text for c in r.completions] for r in engine.generate(requests)}
               for engine in (gpu, small, cpu)]
    assert results[0] == results[1]
    same = sum(a == b for key in results[0] for a, b in zip(results[0][key], results[2][key]))
    assert same >= 30  # GPU and CPU kernels round differently; nearly every sample must still agree


def test_bf16_default_on_gpu_generates_and_scores(tiny_model):
    from tether.engines import Decoding, Request
    from tether.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(tiny_model, batch_size=16)
    assert engine.device == "cuda" and str(engine.torch_dtype) == "torch.bfloat16"
    result = next(engine.generate([Request("x", "1+", tuple(range(16)), Decoding(temperature=0.7, max_tokens=12))]))
    assert len(result.completions) == 16 and all(1 <= c.n_tokens <= 12 for c in result.completions)
    scores = engine.score(["1+"], ["2=3"])[0]
    assert len(scores.logprobs) == 3 and (scores.logprobs <= 0).all() and (scores.entropies >= 0).all()
