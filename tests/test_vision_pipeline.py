"""sample -> resume -> grade -> compare on a real tiny vision-language model, tasks from a file of image paths
(relative to the file's folder)."""

import json

import pytest
from PIL import Image as PILImage

import tether
from tether.engines.transformers_engine import TransformersEngine
from tether.errors import StoreError
from tether.store.images import stored_images
from tether.store.query import stored_prompts
from tether.tasks import ColumnMap

COLUMNS = ColumnMap(id="id", image="picture")


def write_tasks(folder, colours):
    rows = []
    for i, colour in enumerate(colours):
        path = folder / f"p{i}.png"
        PILImage.new("RGB", (40, 30), colour).save(path)
        rows.append({"id": f"t{i}", "question": "How many squares?", "answer": str(i), "picture": path.name})
    (folder / "vis.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return tether.load_tasks(str(folder / "vis.jsonl"), columns=COLUMNS, template="{question}")


@pytest.fixture(scope="module")
def engine(tiny_vlm):
    engine = TransformersEngine(tiny_vlm, device="cpu", batch_size=16, threads=1)
    yield engine
    engine.close()


def test_vlm_sample_resume_grade_compare(tmp_path, engine):
    # tasks 0 and 2 share a picture: one image in the store for both, for both labels
    tasks = write_tasks(tmp_path, [(200, 0, 0), (0, 0, 200), (200, 0, 0)])
    assert tasks[0].prompt[0]["content"][0] == tasks[2].prompt[0]["content"][0]
    config = tether.SamplingConfig(4, tether.Decoding(temperature=1.0, max_tokens=4), task_block=2, sample_block=2)
    run = tmp_path / "run"
    for label, seed in (("base", 0), ("rl", 1)):
        summary = tether.sample(tasks, engine, run, label, tether.SamplingConfig(**{**config.__dict__, "seed": seed}))
        assert summary.ok and summary.samples_written == 3 * 4
    store = tether.Store(run)
    assert len(stored_images(store)) == 2
    assert stored_prompts(store, "base")["t1"] == tasks[1].prompt  # the prompt names its picture by digest

    again = tether.sample(tasks, engine, run, "base", config)  # resume: everything is there
    assert again.samples_written == 0 and again.units_skipped == again.units_total
    more = tether.sample(tasks, engine, run, "base", tether.SamplingConfig(**{**config.__dict__, "k": 6}))
    assert more.samples_written == 3 * 2  # only the new samples

    summary = tether.grade(run, tether.GradeOptions(workers=1))
    assert sum(t.samples for t in summary.tallies.values()) == 3 * 6 + 3 * 4
    result = tether.compare(store=run)
    assert sum(result.counts.as_dict().values()) == 3 and list(result.rl.n) == [4] * 3
    # token entropy reads the prompts back from the store, their pictures too (the engine it was sampled with)
    diagnosis = tether.diagnose(store, ["base"], k=2)
    entropy = [row for row in diagnosis.rows if row.metric == "token_entropy" and row.benchmark == "all"]
    assert len(entropy) == 1 and entropy[0].value > 0

    # one pixel of one picture changed: other tasks, so the label's samples are not resumed with them
    picture = PILImage.open(tmp_path / "p1.png")
    picture.putpixel((0, 0), (0, 0, 201))
    picture.save(tmp_path / "p1.png")
    changed = tether.load_tasks(str(tmp_path / "vis.jsonl"), columns=COLUMNS, template="{question}")
    assert changed[1] != tasks[1] and changed[0] == tasks[0]
    with pytest.raises(StoreError, match="the prompts"):
        tether.sample(changed, engine, run, "base", config)


def test_vlm_through_vllms_server(tmp_path, tiny_vlm):
    """The openai engine against vLLM's OpenAI server (CPU build) serving the tiny VLM: images as data URLs;
    sampling, resume, grading and compare as for text."""
    pytest.importorskip("vllm")
    import sys

    from tether.engines.openai_engine import OpenAICompatibleEngine

    from .servers import Server, free_port

    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_vlm), "--host",
               "127.0.0.1", "--port", str(port), "--enforce-eager", "--dtype", "float32", "--max-model-len", "512"]
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    server = Server("vllm", command, port, tmp_path / "vllm.log", 600, env).wait()
    try:
        tasks = write_tasks(tmp_path, [(200, 0, 0), (0, 0, 200)])
        config = tether.SamplingConfig(3, tether.Decoding(temperature=1.0, max_tokens=4), task_block=1)
        run = tmp_path / "run"
        for label, seed in (("base", 0), ("rl", 1)):
            engine = OpenAICompatibleEngine(str(tiny_vlm), server.base_url)
            seeded = tether.SamplingConfig(**{**config.__dict__, "seed": seed})
            summary = tether.sample(tasks, engine, run, label, seeded)
            assert summary.ok and summary.samples_written == 2 * 3, summary.failed
            assert engine.seed_reproducible is True
        engine = OpenAICompatibleEngine(str(tiny_vlm), server.base_url)
        assert tether.sample(tasks, engine, run, "base", config).samples_written == 0  # resumed: nothing to do
        summary = tether.grade(run, tether.GradeOptions(workers=1))
        assert sum(t.samples for t in summary.tallies.values()) == 2 * 2 * 3
        assert sum(tether.compare(store=run).counts.as_dict().values()) == 2
        assert len(stored_images(tether.Store(run))) == 2
    finally:
        server.stop()
