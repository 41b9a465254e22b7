"""Task loaders on real local files, a real `datasets` dataset written here, and Reasoning Gym."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tether.errors import InputError
from tether.tasks import MATH_INSTRUCTION, PRESETS, ColumnMap, load_tasks, render_prompt
from tether.tasks.task import Task


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_with_column_mapping_and_math_template(tmp_path):
    path = write_jsonl(tmp_path / "probs.jsonl", [
        {"uid": "p1", "problem": "What is 1+1?", "solution": "2", "level": 1},
        {"uid": "p2", "problem": "What is 2+2?", "solution": "4", "level": 2},
    ])
    tasks = load_tasks(str(path), columns=ColumnMap.parse("question=problem,answer=solution,id=uid,extra=level"))
    assert [t.task_id for t in tasks] == ["p1", "p2"]
    assert tasks[0].benchmark == "probs"
    assert tasks[0].prompt.startswith("What is 1+1?") and tasks[0].prompt.endswith(MATH_INSTRUCTION)
    assert tasks[0].reference == {"question": "What is 1+1?", "answer": "2", "level": 1}  # the bare question: for the judge
    assert tasks[0].verifier == "math"


def test_parquet_rows_are_numbered_without_an_id_column(tmp_path):
    pq.write_table(pa.table({"question": ["a?", "b?"], "answer": ["1", "2"]}), tmp_path / "qa.parquet")
    tasks = load_tasks(str(tmp_path / "qa.parquet"), template="{question}", verifier="exact", limit=1)
    assert [(t.task_id, t.prompt, t.verifier) for t in tasks] == [("qa/0", "a?", "exact")]


def test_missing_column_and_duplicate_ids_are_clear_errors(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"q": "a"}])
    with pytest.raises(InputError, match="no columns 'question', 'answer'; columns are q; map yours with --columns"):
        load_tasks(str(path))  # every missing column at once, and the flag that maps them
    assert load_tasks(str(path), columns="question=q,answer=", template="{question}")[0].prompt == "a"
    dup = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "question": "x", "answer": 1}] * 2)
    with pytest.raises(InputError, match="task id 'a' appears twice"):
        load_tasks(str(dup), columns=ColumnMap(id="id"))
    with pytest.raises(InputError, match="column mapping"):
        ColumnMap.parse("questoin=x")


def test_hf_dataset_loading_code_on_a_local_dataset(tmp_path):
    """The same `datasets.load_dataset` call the hub presets use, on a dataset repo written here."""
    import datasets

    repo = tmp_path / "MATH-mini"
    (repo / "data").mkdir(parents=True)
    pq.write_table(pa.table({"problem": ["p?", "q?", "r?"], "answer": ["1", "2", "3"], "unique_id": ["u1", "u2", "u3"]}),
                   repo / "data" / "test-00000-of-00001.parquet")
    tasks = load_tasks(f"hf:{repo}?split=test", columns=PRESETS["math500"].columns)
    assert [t.task_id for t in tasks] == ["u1", "u2", "u3"] and tasks[2].reference["answer"] == "3"
    saved = tmp_path / "saved"
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({"question": ["z?"], "answer": ["9"]})}).save_to_disk(saved)
    assert load_tasks(f"hf:{saved}?split=test")[0].reference["answer"] == "9"
    with pytest.raises(InputError, match="cannot load dataset"):
        load_tasks(f"hf:{repo}?split=validation")


def test_presets_load_from_a_local_copy_or_say_why_not(tmp_path):
    write_jsonl(tmp_path / "aime24.jsonl", [{"id": 60, "problem": "Find x.", "answer": "204"}])
    tasks = load_tasks("aime24", data_dir=tmp_path)
    assert tasks[0].task_id == "60" and tasks[0].benchmark == "aime24" and tasks[0].reference["answer"] == "204"
    with pytest.raises(InputError, match="no local copy of math500"):
        load_tasks("math500", data_dir=tmp_path)
    with pytest.raises(InputError, match="offline here; pass --data-dir"):
        load_tasks("math500")


def test_an_unreachable_hub_names_data_dir_at_once(monkeypatch):
    import socket

    with socket.socket() as probe:  # a local port nobody listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(InputError, match="does not answer from here.*pass --data-dir"):
        load_tasks("math500")


def test_every_preset_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "tasks.md").read_text()
    for name, preset in PRESETS.items():
        assert f"`{name}`" in doc and preset.dataset in doc, name


def test_reasoning_gym_generates_offline_with_full_entries():
    tasks = load_tasks("reasoning-gym:gcd?size=5&seed=3")
    assert len(tasks) == 5 and tasks[0].task_id == "gcd/3/0"
    assert tasks[0].verifier == "reasoning_gym" and tasks[0].prompt[0]["role"] == "system"
    entry = tasks[0].reference["entry"]
    assert set(entry) >= {"question", "answer", "metadata"} and tasks[0].reference["answer"] == entry["answer"]
    assert load_tasks("reasoning-gym:gcd?size=5&seed=3") == tasks
    with pytest.raises(InputError, match="no Reasoning Gym dataset 'no_such_dataset'$"):
        load_tasks("reasoning-gym:no_such_dataset?size=2")
    with pytest.raises(InputError, match="unknown option"):
        load_tasks("reasoning-gym:gcd?n=2")


def test_render_prompt_modes(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert render_prompt("2+2", tokenizer) == "user: 2+2\nassistant: "
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2"}]
    assert render_prompt(messages, tokenizer, "plain") == "be brief\n\n2+2"
    assert render_prompt("2+2", None) == "2+2"
    with pytest.raises(InputError, match="no chat template"):
        render_prompt("x", None, "chat")


def test_task_json_forms():
    task = Task("t", "b", [{"role": "user", "content": "é"}], {"answer": ["1", "2"]}, "math")
    assert json.loads(task.prompt_json()) == task.prompt and json.loads(task.reference_json()) == task.reference


def test_specs_joined_by_plus_load_and_count_each_part(tmp_path):
    """`a+b`: both parts' tasks in order, ids prefixed by their benchmark so they never clash, `limit` per part;
    `count_tasks` counts each part without fetching (a preset's known size, a file's rows)."""
    from tether.tasks import count_tasks

    for name in ("alpha", "beta"):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": str(i), "question": f"{name} {i}?", "answer": str(i)}) + "\n" for i in range(3)))
    spec = f"{tmp_path / 'alpha.jsonl'}+{tmp_path / 'beta.jsonl'}"
    tasks = load_tasks(spec, columns="id=id", limit=2)
    assert [t.task_id for t in tasks] == ["alpha/0", "alpha/1", "beta/0", "beta/1"]
    assert count_tasks(spec, limit=2) == {str(tmp_path / "alpha.jsonl"): 2, str(tmp_path / "beta.jsonl"): 2}
    assert count_tasks("math500+aime24+reasoning-gym:knights_knaves?size=7") == {
        "math500": 500, "aime24": 30, "reasoning-gym:knights_knaves?size=7": 7}
    assert count_tasks("hf:org/data") == {"hf:org/data": None}
    with pytest.raises(InputError, match="no Reasoning Gym dataset 'knight_knaves'; did you mean"):
        count_tasks("reasoning-gym:knight_knaves")
    with pytest.raises(InputError, match="an empty part between"):
        load_tasks("math500++aime24")


def test_code_columns_map_tests_entry_point_and_prefix(tmp_path):
    """An MBPP-style file: tests as assert lines, no answer column; graded by running them."""
    import json

    from tether.grading.code import CodeVerifier, test_code
    from tether.grading.sandbox import isolation_problem

    rows = [{"task_id": 7, "text": "Write add(a, b).", "test_list": ["assert add(1, 2) == 3"]}]
    (tmp_path / "mbpp.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = load_tasks(str(tmp_path / "mbpp.jsonl"), columns="question=text,tests=test_list,id=task_id",
                      verifier="code", template="{question}")[0]
    assert task.reference == {"question": "Write add(a, b).", "tests": ["assert add(1, 2) == 3"]}
    assert test_code(task.reference) == "assert add(1, 2) == 3"
    with pytest.raises(InputError, match="no column 'tests_x'"):
        load_tasks(str(tmp_path / "mbpp.jsonl"), columns="question=text,tests=tests_x")
    if isolation_problem() is None:
        assert CodeVerifier().compare("def add(a, b):\n    return a + b\n", task.reference).correct
