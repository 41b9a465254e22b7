"""The `mathvista` and `mathvision` presets from `--data-dir` copies in the real datasets' column layouts (the
hub is not reachable here), with generated images: MathVista as a folder saved by `datasets` (splits testmini and
test, `decoded_image` an Image feature), MathVision as its repository's `testmini.jsonl` beside its `images/`
folder; then graded end to end by vision_math, the rules first and a local judge for what they cannot read."""

import hashlib
import io
import json
from collections import Counter

import pytest

import tether
from tether.grading import GradeOptions, grade
from tether.grading.vision import VisionMathVerifier
from tether.tasks import load_tasks
from tether.tasks.images import prompt_text
from tether.tasks.loaders import count_tasks

from ..grading.test_failures import FlakyJudge

META = {"category": "math-targeted-vqa", "context": "geometry diagram", "grade": "high school", "img_height": 8,
        "img_width": 8, "language": "english", "skills": ["geometry reasoning"], "source": "GeoQA+",
        "split": "testmini", "task": "geometry problem solving"}
MATHVISTA = [  # three of MathVista's testmini rows (pids 1-3, the question shortened), in its hub columns
    {"pid": "1", "question": "By what distance d is the spring compressed?", "image": "images/1.jpg",
     "choices": None, "unit": None, "precision": 1.0, "answer": "1.2", "question_type": "free_form",
     "answer_type": "float",
     "query": "Hint: Please answer the question requiring a floating-point number with one decimal place and "
              "provide the final value, e.g., 1.2, 1.3, 1.4, at the end.\nQuestion: By what distance d is the "
              "spring compressed?"},
    {"pid": "2", "question": "what is the total volume of the measuring cup?", "image": "images/2.jpg",
     "choices": None, "unit": "g", "precision": None, "answer": "1000", "question_type": "free_form",
     "answer_type": "integer",
     "query": "Hint: Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, "
              "3, at the end.\nQuestion: what is the total volume of the measuring cup? (Unit: g)"},
    {"pid": "3", "question": "∠A＝110°，则∠BOC＝（）", "image": "images/3.jpg",
     "choices": ["135°", "140°", "145°", "150°"], "unit": None, "precision": None, "answer": "145°",
     "question_type": "multi_choice", "answer_type": "text",
     "query": "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the "
              "end.\nQuestion: ∠A＝110°，则∠BOC＝（）\nChoices:\n(A) 135°\n(B) 140°\n(C) 145°\n(D) 150°"},
]
MATHVISION = [  # three of MATH-V's data/testmini.jsonl rows, as its repository writes them
    {"id": "4", "question": "How many different digits can you find in this picture?\n<image1>", "options": [],
     "answer": "6", "solution": None, "level": 1, "subject": "counting", "image": "images/4.jpg"},
    {"id": "6", "question": "In which picture can we see the kittens of Misty?\n<image1>",
     "options": ["A", "B", "C", "D", "E"], "answer": "D", "solution": None, "level": 3, "subject": "logic",
     "image": "images/6.jpg"},
    {"id": "20", "question": "How long is the rope?\n<image1>",
     "options": ["$6 \\mathrm{~m}$", "$8 \\mathrm{~m}$", "$10 \\mathrm{~m}$", "$11 \\mathrm{~m}$", "$12 \\mathrm{~m}$"],
     "answer": "C", "solution": None, "level": 2, "subject": "metric geometry - length", "image": "images/20.jpg"},
]


def picture(seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    import datasets

    root = tmp_path_factory.mktemp("vision-data")
    features = datasets.Features({
        "pid": datasets.Value("string"), "question": datasets.Value("string"), "image": datasets.Value("string"),
        "decoded_image": datasets.Image(), "choices": datasets.Sequence(datasets.Value("string")),
        "unit": datasets.Value("string"), "precision": datasets.Value("float64"), "answer": datasets.Value("string"),
        "question_type": datasets.Value("string"), "answer_type": datasets.Value("string"),
        "metadata": {key: datasets.Sequence(datasets.Value("string")) if key == "skills" else
                     datasets.Value("int64") if key.startswith("img_") else datasets.Value("string") for key in META},
        "query": datasets.Value("string")})
    rows = [{**row, "decoded_image": {"bytes": picture(i), "path": None}, "metadata": META}
            for i, row in enumerate(MATHVISTA)]
    testmini = datasets.Dataset.from_list(rows, features=features)
    hidden = datasets.Dataset.from_list([{**rows[0], "pid": "1001", "answer": ""}], features=features)
    datasets.DatasetDict({"testmini": testmini, "test": hidden}).save_to_disk(str(root / "mathvista"))
    (root / "images").mkdir()
    for i, row in enumerate(MATHVISION):
        (root / row["image"]).write_bytes(picture(10 + i))
    (root / "mathvision.jsonl").write_text("".join(json.dumps(row) + "\n" for row in MATHVISION))
    return root


@pytest.fixture(scope="module")
def tasks(data_dir):
    return {name: {t.task_id: t for t in load_tasks(name, data_dir=data_dir)} for name in ("mathvista", "mathvision")}


def test_mathvista_reads_its_testmini_split_with_its_query_and_image(tasks, data_dir):
    vista = tasks["mathvista"]
    assert sorted(vista) == ["1", "2", "3"] and count_tasks("mathvista", data_dir) == {"mathvista": 3}
    choice = vista["3"]
    assert choice.verifier == "vision_math" and choice.benchmark == "mathvista"
    assert prompt_text(choice.prompt) == MATHVISTA[2]["query"]  # MathVista's query is the prompt
    assert [part["type"] for part in choice.prompt[0]["content"]] == ["image", "text"]
    assert choice.images[0].digest == hashlib.sha256(picture(2)).hexdigest()
    assert choice.reference["choices"] == ["135°", "140°", "145°", "150°"] and choice.reference["answer"] == "145°"
    assert vista["1"].reference["precision"] == 1 and vista["1"].reference["answer_type"] == "float"
    assert vista["2"].reference["unit"] == "g" and vista["2"].reference["choices"] == []


def test_mathvision_builds_its_prompt_and_reads_images_beside_the_file(tasks):
    vision = tasks["mathvision"]
    assert sorted(vision) == ["20", "4", "6"]
    rope, kittens, digits = vision["20"], vision["6"], vision["4"]
    assert "(C) $10 \\mathrm{~m}$" in prompt_text(rope.prompt) and "letter of the correct option" in \
        prompt_text(rope.prompt)
    assert "Choices: A, B, C, D, E" in prompt_text(kittens.prompt)  # the options are drawn in the picture
    assert "(A)" not in prompt_text(digits.prompt) and prompt_text(digits.prompt).endswith("in one \\boxed{}.")
    assert rope.images[0].digest == hashlib.sha256(picture(12)).hexdigest()


def test_the_hub_parquet_file_holds_the_image_bytes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{**row, "decoded_image": {"bytes": picture(i), "path": row["image"]}} for i, row in enumerate(MATHVISTA)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "mathvista.parquet")
    loaded = {t.task_id: t for t in load_tasks("mathvista", data_dir=tmp_path)}
    assert loaded["2"].images[0].digest == hashlib.sha256(picture(1)).hexdigest()
    assert prompt_text(loaded["3"].prompt) == MATHVISTA[2]["query"] and loaded["1"].reference["precision"] == 1


def test_every_gold_graded_by_the_rules_is_correct(tasks):
    rules = VisionMathVerifier()
    golds = {"1": "\\boxed{1.2}", "2": "The volume is 1000 g.", "3": "The answer is C.", "4": "\\boxed{6}",
             "6": "\\boxed{D}", "20": "\\boxed{10 m}"}
    for name in tasks:
        for task_id, task in tasks[name].items():
            reference = json.loads(task.reference_json())
            rules.check_task(task_id, reference)
            answer = rules.extract(golds[task_id], reference)
            assert rules.compare(answer, reference).correct, (name, task_id)


def test_grading_decides_by_rules_then_the_judge(tasks, data_dir, tmp_path):
    """Graded through the store: answers the rules read never reach the judge; the others do, and the route of
    each verdict says who decided."""
    completions = {"3": ["The answer is C.", "\\boxed{A}", "\\boxed{the third one}", "I cannot see the image."],
                   "2": ["The volume is 1000 g.", "\\boxed{x is 1000 g}"]}
    rows = [{"task_id": task, "completion": text} for task, texts in completions.items() for text in texts]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    tether.import_samples(tmp_path / "s.jsonl", tmp_path / "run", label="base")
    given = list(tasks["mathvista"].values())
    judge = FlakyJudge(failures=0)
    try:
        options = GradeOptions(workers=1, verifier_options={"vision_math": {
            "judge_model": "m", "judge_base_url": judge.base_url}})
        summary = grade(tmp_path / "run", options, tasks=given)
    finally:
        judge.close()
    tally = summary.tallies[("base", "mathvista")]
    assert judge.posts == 3  # "the third one", the tail of "I cannot see the image.", "x is 1000 g"
    assert tally.routes == Counter({"final_answer": 1, "box": 1, "last_result": 1, "judge": 2, "judge_tail": 1})
    assert tally.correct == 3  # C; 1000 g; and the judge finds the target "1000 g" in "x is 1000 g"
    assert summary.to_dict()["tallies"][0]["decided"] == {"rules": 3, "judge": 3, "unreadable": 0}
    unjudged = grade(tmp_path / "run", GradeOptions(workers=1), tasks=given)
    assert unjudged.tallies[("base", "mathvista")].statuses["no_answer"] == 3  # no judge: not read, no answer
