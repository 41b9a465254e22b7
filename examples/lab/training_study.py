"""The lab's training-run study: TRL's GRPOTrainer trains the shipped base with `TetherCallback` attached, and every
saved checkpoint's sampled regions stand beside the exact ones (docs/training.md, "The lab proof").

    python examples/lab/training_study.py [OUT] [--steps 40] [--save-every 10] [--k 256]

Prints one row per checkpoint and writes OUT/training_study.json, OUT/study/ (study.json, trajectory.csv) and the
store OUT/store (``tether compare OUT/store --rl 'grpo-*'`` shows the same trajectory). Needs ``pip install trl``.
"""

from __future__ import annotations

import argparse


def main() -> None:
    import torch

    from tether.experiment.training import TrainingStudyConfig, run_training_study

    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and never stalls on a busy machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="training-study")
    parser.add_argument("--steps", type=int, default=TrainingStudyConfig.steps)
    parser.add_argument("--save-every", type=int, default=TrainingStudyConfig.save_every)
    parser.add_argument("--k", type=int, default=TrainingStudyConfig.k)
    args = parser.parse_args()
    found = run_training_study(args.out, TrainingStudyConfig(steps=args.steps, save_every=args.save_every, k=args.k))
    print(f"TRL step: {found.seconds_per_step:.3f} s (median); evaluations: "
          + ", ".join(f"{s:.1f}" for s in found.evaluation_seconds) + f" s; all: {found.seconds:.0f} s")
    print("step  " + "  ".join(f"{r}: sampled exact [interval]" for r in "PSEO") + "  pass@k: sampled [CI] exact")
    for row in found.rows:
        regions = "  ".join(f"{r}: {row[r]:>3} {row[f'{r}_exact']:6.2f} [{row[f'{r}_interval'][0]}, "
                            f"{row[f'{r}_interval'][1]}]" for r in "PSEO")
        lo, hi = row["pass_at_k_ci"]
        print(f"{row['step']:>4}  {regions}  {row['pass_at_k']:.3f} [{lo:.3f}, {hi:.3f}] {row['pass_at_k_exact']:.3f}")
    print(found.study.trajectories[0].first_shrinkage.reason)


if __name__ == "__main__":  # grading's worker processes re-import this file
    main()
