"""sample -> grade -> compare through the public API, on a real (tiny) model: the stages meet in the store."""

import json

import tether
from tether.engines.transformers_engine import TransformersEngine
from tether.tasks import ColumnMap


def test_sample_grade_compare(tmp_path, tiny_model):
    (tmp_path / "t.jsonl").write_text("".join(
        json.dumps({"id": f"t{i}", "question": f"{i}+{i}=", "answer": str(2 * i)}) + "\n" for i in range(4)))
    tasks = tether.load_tasks(str(tmp_path / "t.jsonl"), columns=ColumnMap(id="id"), template="{question}")
    config = tether.SamplingConfig(16, tether.Decoding(temperature=1.0, max_tokens=6), task_block=2, sample_block=8)
    for label, seed in (("base", 0), ("rl", 1)):
        engine = TransformersEngine(tiny_model, batch_size=32)
        tether.sample(tasks, engine, tmp_path / "run", label, tether.SamplingConfig(**{**config.__dict__, "seed": seed}))
    summary = tether.grade(tmp_path / "run", tether.GradeOptions(workers=1))
    assert sum(t.samples for t in summary.tallies.values()) == 2 * 4 * 16
    assert {label for label, _ in summary.tallies} == {"base", "rl"}
    result = tether.compare(store=tmp_path / "run")
    assert sum(result.counts.as_dict().values()) == 4
    assert list(result.base.n) == [16] * 4 and list(result.rl.n) == [16] * 4
    manifest = tether.Store(tmp_path / "run").manifest()
    assert set(manifest.runs) == {"base", "rl"} and set(manifest.grading) == {"base", "rl"}
