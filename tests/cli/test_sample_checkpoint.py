"""`tether sample --run NAME --step N`: a sampled label recorded as a training run's checkpoint, so that a study
of the store finds the run's trajectory; both flags or neither."""

from tether.compare import CompareOptions
from tether.compare.study import compare_study
from tether.store import open_store

from ..cli_run import tether

SAMPLE = ("--tasks", "lab-sums:2-3", "--k", "2", "--max-tokens", "6", "--template", "plain")


def test_two_checkpoints_sampled_with_run_and_step_are_a_study_s_trajectory(tmp_path):
    store = tmp_path / "s"
    for label, model, step in (("base", "lab:base", None), ("grpo-10", "lab:rl", 10), ("grpo-20", "lab:rl", 20)):
        placed = () if step is None else ("--run", "grpo", "--step", step)
        done = tether("sample", store, "--model", model, *SAMPLE, "--label", label, *placed)
        assert done.returncode == 0, done.stderr
    assert tether("grade", store).returncode == 0
    manifest = open_store(store).manifest()
    assert [manifest.checkpoint(label) for label in ("base", "grpo-10", "grpo-20")] == [None, ("grpo", 10),
                                                                                        ("grpo", 20)]
    # each checkpoint draws with run seed --seed + step (independent draws); the base keeps --seed
    assert [manifest.runs[label].settings.seed for label in ("base", "grpo-10", "grpo-20")] == [0, 10, 20]
    study = compare_study(store, ["grpo-20", "grpo-10"], options=CompareOptions(bootstrap_reps=20))
    assert [(c.label, c.run, c.step) for c in study.children] == [("grpo-20", "grpo", 20), ("grpo-10", "grpo", 10)]
    (run,) = study.trajectories
    assert [(s.step, s.label) for s in run.steps] == [(10, "grpo-10"), (20, "grpo-20")]  # in step order
    again = tether("sample", store, "--model", "lab:rl", *SAMPLE, "--label", "grpo-20", "--run", "grpo", "--step", 20)
    assert again.returncode == 0 and "wrote 0 samples" in again.stdout  # a resume: nothing to do, nothing refused
    assert open_store(store).manifest().checkpoint("grpo-20") == ("grpo", 20)
    assert open_store(store).manifest().runs["grpo-20"].settings.seed == 20  # the resume kept its own seed


def test_run_and_step_come_together(tmp_path):
    alone = tether("sample", tmp_path / "s", "--model", "lab:rl", *SAMPLE, "--label", "x", "--run", "grpo")
    assert alone.returncode == 2 and "give --run and --step together" in alone.stderr
    assert len(alone.stderr.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
    negative = tether("sample", tmp_path / "s", "--model", "lab:rl", *SAMPLE, "--label", "x", "--run", "grpo",
                      "--step", "-1")
    assert negative.returncode == 2 and "--step" in negative.stderr and not (tmp_path / "s").exists()
