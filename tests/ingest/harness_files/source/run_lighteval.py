"""Run lighteval's real accelerate pipeline offline: its registry imports every bundled task module,
some of which reach the network at import, so only the custom tasks file is loaded."""
import sys

from lighteval.tasks.registry import Registry


def _custom_only(custom_tasks=None, load_multilingual=False):
    return Registry._extract_configs(Registry.create_custom_tasks_module(custom_tasks))


Registry.load_all_task_configs = staticmethod(_custom_only)

from lighteval.main_accelerate import accelerate  # noqa: E402

model_args, tasks, custom, out = sys.argv[1:5]
accelerate(model_args=model_args, tasks=tasks, custom_tasks=custom, output_dir=out, save_details=True)
