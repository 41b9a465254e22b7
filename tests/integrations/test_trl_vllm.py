"""`TetherCallback` on a TRL `GRPOTrainer` that generates with a colocated vLLM (vLLM's CPU build): each step is
sampled through the trainer's own `vllm.LLM`, holding the step's weights, in a subprocess of its own.

TRL syncs its weights into vLLM with the model's `load_weights`, which vLLM's CPU build cannot take once it has
packed its linear layers for oneDNN (their parameters are gone: "'Parameter' object has no attribute
'weight_loader'"). The script swaps TRL's `sync_weights` for vLLM's in-place reload, which re-packs them (the
callback calls the trainer's `sync_weights` whatever it is, as on a GPU), and builds TRL's LLM without compiling."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("trl", reason="TRL is in the trl extra")
pytest.importorskip("vllm", reason="vLLM is in the vllm extra")

SCRIPT = textwrap.dedent("""
    import functools, json, os, sys
    from pathlib import Path
    import pyarrow.parquet as pq
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import GRPOConfig, GRPOTrainer
    from trl.generation import vllm_generation
    from trl.generation.vllm_generation import VLLMGeneration
    from tether.engines import Decoding, Request, derive_seed
    from tether.engines.vllm_engine import VLLMEngine
    from tether.integrations.trl import TetherCallback
    from tether.lab.checkpoint import char_tokenizer, save_checkpoint, tiny_llama
    from tether.store import open_store

    def reload_weights(self):  # vLLM's CPU build: its in-place reload, not the model's load_weights (see above)
        runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        runner.reload_weights(weights_iterator=[(name, p.detach().clone()) for name, p in self._iter_named_params()],
                              is_checkpoint_format=True)
        self.llm.reset_prefix_cache()

    VLLMGeneration.sync_weights = reload_weights
    vllm_generation.LLM = functools.partial(vllm_generation.LLM, enforce_eager=True)  # no compiling: a test's time
    out = Path(sys.argv[1])
    tokenizer = char_tokenizer("0123456789+=:-, abcdefghijklmnopqrstuvwxyz")
    folder = save_checkpoint(tiny_llama(len(tokenizer), hidden=128, heads=2, seed=1), tokenizer, out / "model")
    args = GRPOConfig(output_dir=str(out / "rl"), max_steps=2, per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=6, learning_rate=3e-2, use_cpu=True, bf16=False, report_to="none",
                      save_strategy="no", logging_steps=1, disable_tqdm=True, seed=0, use_vllm=True,
                      vllm_mode="colocate", vllm_max_model_length=64)
    # digits drawn: a reward that varies within a group from the start, so that the weights move
    reward = lambda completions, **_: [float(sum(ch.isdigit() for ch in c)) for c in completions]
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(folder), reward_funcs=reward, args=args,
                          train_dataset=Dataset.from_dict({"prompt": ["5:", "6:", "7:", "8:"] * 2}),
                          processing_class=AutoTokenizer.from_pretrained(folder, padding_side="left"))
    trainer.remove_callback(PrinterCallback)
    start = trainer.model.model.embed_tokens.weight.detach().clone()
    callback = TetherCallback(trainer, out / "store", "lab-sums:2-5", 4, every=1, run="r", template="plain")
    trainer.add_callback(callback)
    trainer.train()
    llm = trainer.vllm_generation.llm
    served = llm.llm_engine.model_executor.driver_worker.model_runner.get_model().model.embed_tokens.weight
    trained = trainer.model.model.embed_tokens.weight.detach()
    samples = pq.read_table(out / "store" / "samples" / "r-2").to_pylist()
    again = VLLMEngine.live(llm, trainer.processing_class, model_id="again", template="plain")
    decoding = callback.config.decoding
    prompts = {task.task_id: task.prompt for task in callback.tasks}
    requests = [Request(f"{s['task_id']}/{s['sample_idx']}", prompts[s["task_id"]],
                        (derive_seed(2, s["task_id"], s["sample_idx"]),), decoding) for s in samples]
    redrawn = {r.request.key: r.completions[0].text for r in again.generate(requests)}
    again.close()
    store = open_store(out / "store")
    manifest = store.manifest()
    print("RESULT " + json.dumps({
        "labels": store.labels("verdicts"), "step": trainer.state.global_step,
        "checkpoints": [manifest.checkpoint(label) for label in ("base", "r-1", "r-2")],
        "engines": [manifest.runs[label].settings.engine.model_dump() for label in ("base", "r-1", "r-2")],
        "logged": [e for e in trainer.state.log_history if any(k.startswith("tether/") for k in e)],
        "errors": [e.error for e in callback.evaluations], "last_loaded": trainer._last_loaded_step,
        "served_vs_trained": float((served[: len(trained)].float() - trained).abs().max()),  # vLLM pads its vocab
        "moved": float((trained - start).abs().max()), "alive": llm.llm_engine is not None,
        "stored": {f"{s['task_id']}/{s['sample_idx']}": s["completion"] for s in samples}, "redrawn": redrawn,
        "task_ids": sorted({s["task_id"] for s in samples})}), flush=True)
    os._exit(0)  # vLLM's CPU build can abort in interpreter teardown; the work is done
""")


def test_a_colocated_vllm_trainer_is_sampled_through_its_own_llm(tmp_path):
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
           "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=600, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["step"] == 2 and result["errors"] == [None, None], result["errors"]
    assert result["labels"] == ["base", "r-1", "r-2"]
    assert result["checkpoints"] == [["r", 0], ["r", 1], ["r", 2]]
    for engine, step in zip(result["engines"], (0, 1, 2)):  # sampled by the vLLM engine, not transformers
        assert engine["engine"] == "vllm" and engine["model"].endswith(f"(training run r, step {step})"), engine
    assert [entry["step"] for entry in result["logged"]] == [0, 1, 2]
    assert {"tether/P", "tether/S", "tether/pass@4"} <= set(result["logged"][-1])
    # the trainer's own sync ran before sampling step 2: vLLM holds the trained weights (moved well beyond
    # vLLM's rounding), and TRL's next generation at this step would not sync again
    assert result["last_loaded"] == 2 and result["alive"]
    assert result["served_vs_trained"] < 2e-3 < result["moved"], result  # unsynced: 0.015 (one step behind)
    # step 2's samples are what that LLM draws with tether's seeds (seed + step, task, sample)
    assert len(result["stored"]) == 4 * len(result["task_ids"]) == 16
    assert result["redrawn"] == result["stored"]


def test_only_a_colocated_vllm_is_sampled_through(tmp_path, caplog):
    """A vLLM server takes one seed per request, not per sample, and the ranks of a tensor-parallel vLLM
    generate together: such trainers are sampled with transformers, and the callback says so when built."""
    import logging
    from types import SimpleNamespace

    from tether.integrations.trl import TetherCallback, trainer_vllm_mode

    def trainer(use_vllm, **generation):
        args = SimpleNamespace(use_vllm=use_vllm, output_dir=str(tmp_path / "out"), temperature=1.0, top_p=1.0,
                               max_completion_length=8)
        return SimpleNamespace(args=args, vllm_generation=SimpleNamespace(**generation) if generation else None)

    assert trainer_vllm_mode(trainer(True, mode="colocate", llm=object())) == "colocate"
    assert trainer_vllm_mode(trainer(True, mode="colocate", llm=None)) is None  # not this process's LLM
    assert trainer_vllm_mode(trainer(True, mode="colocate", llm=object(), tensor_parallel_size=2)) == "split"
    assert trainer_vllm_mode(trainer(False, mode="colocate", llm=object())) is None
    assert trainer_vllm_mode(trainer(False)) is None
    served = trainer(True, mode="server", vllm_client=object())
    assert trainer_vllm_mode(served) == "server"
    with caplog.at_level(logging.WARNING, logger="tether.integrations.trl"):
        TetherCallback(served, tmp_path / "store", "lab-sums:2-3", 4)
    assert "vLLM server, which takes one seed per request" in caplog.text and "with transformers" in caplog.text
