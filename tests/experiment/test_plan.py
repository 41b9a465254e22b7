"""`tether run --check` states the cost of diagnose's token entropy (teacher forcing every sample), and how
to turn it off."""

from tether.experiment.plan import plan_experiment

from ..cli_run import tether

FILE = ('store = "run"\n[tasks]\nspec = "lab-sums:2-11+lab-sums:20-29"\n[sampling]\nk = {k}\nmax_tokens = 100\n'
        '[models.base]\nmodel = "lab:base"\n[models.rl]\nmodel = "lab:rl"\n')


def test_plan_counts_the_tokens_diagnose_scores(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(FILE.format(k=64))
    plan = plan_experiment(path, throughput=100, mean_tokens=50)
    d = plan.diagnose  # 20 tasks, the first 32 samples of each (diagnostics k), both models
    assert (d.k, d.samples, d.tokens, d.max_tokens) == (32, 640, 2 * 640 * 50, 2 * 640 * 100)
    path.write_text(FILE.format(k=16) + "[diagnostics]\nk = 32\n")
    assert plan_experiment(path).diagnose.k == 16  # no more samples than were drawn
    path.write_text(FILE.format(k=64) + "[diagnostics]\ntoken_entropy = false\n")
    assert plan_experiment(path).diagnose is None  # avg@k and answer entropy: from the verdicts, no model
    path.write_text(FILE.format(k=64) + "[diagnostics]\nenabled = false\n")
    assert plan_experiment(path).diagnose is None


def test_run_check_shows_the_cost_of_diagnose(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(FILE.format(k=64))
    out = tether("run", path, "--check", "--throughput", "100")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert ("diagnose: token entropy teacher-forces the first 32 samples per task of both models (640 each): "
            "128.00k completion tokens, each after its prompt; about 0.4 GPU hours at 100 tokens/s") in text
    assert "assuming scoring runs at the sampling rate" in text
    assert "to skip it: token_entropy = false under [diagnostics]" in text
    path.write_text(FILE.format(k=64) + "[diagnostics]\nenabled = false\n")
    out = tether("run", path, "--check")
    assert out.returncode == 0 and "teacher-forces" not in out.stdout


def test_a_stated_mean_length_is_used_with_max_tokens_as_the_bound(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(FILE.format(k=64))
    out = tether("run", path, "--check", "--mean-tokens", "50")
    assert out.returncode == 0, out.stderr
    assert "64.00k completion tokens (≤ 128.00k)" in " ".join(out.stdout.split())
