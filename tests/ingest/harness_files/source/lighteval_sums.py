from lighteval.metrics.metrics import Metrics
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc


def sums_prompt(line, task_name: str = None):
    return Doc(task_name=task_name, query=line["question"], choices=[line["answer"]], gold_index=0)


lab_sums = LightevalTaskConfig(
    name="lab_sums",
    prompt_function=sums_prompt,
    hf_repo="@DATA@/le_data",
    hf_subset="default",
    hf_avail_splits=["test"],
    evaluation_splits=["test"],
    few_shots_split=None,
    few_shots_select=None,
    generation_size=24,
    stop_sequence=["\n"],
    metrics=[Metrics.pass_at_k(sample_params={"k": 1, "n": 4})],
    version=0,
)

TASKS_TABLE = [lab_sums]


lab_sums_exact = LightevalTaskConfig(
    name="lab_sums_exact",
    prompt_function=sums_prompt,
    hf_repo="@DATA@/le_greedy",
    hf_subset="default",
    hf_avail_splits=["test"],
    evaluation_splits=["test"],
    few_shots_split=None,
    few_shots_select=None,
    generation_size=24,
    stop_sequence=["\n"],
    metrics=[Metrics.exact_match],
    version=0,
)

TASKS_TABLE = [lab_sums, lab_sums_exact]
