"""Where a comparison's numbers came from: per label, the model, engine, decoding, seed, k, verifier
versions and the share of completions cut at max_tokens, from the store's manifest and samples.

Shown in `tether compare`'s header, kept in compare.json and summary.json, and in the report's
first section, so a table is never separated from what produced it. Beside it, `reward_hacks`:
per label, the current verdicts whose detail signals a reward hack (a program that exited before
its tests finished, a forged result), which an RL model's pass@k should be read with.
`checked_labels` also warns, per label, when its format compliance is low or none of its current
verdicts is correct (`tether.store.compliance`: the same lines as `tether grade`'s).
"""

from __future__ import annotations

from tether.compare.counts import label_warnings
from tether.store import Store
from tether.store.compliance import compliance_warnings, stored_compliance
from tether.store.manifest import Manifest
from tether.store.query import reward_hack_counts, sample_totals
from tether.store.schema import RewardHackCounts


def checked_labels(store: Store, base_label: str, rl_label: str) -> tuple[list[str], dict[str, dict]]:
    """The warnings about comparing these two labels (`label_warnings`: a label against itself is an
    error; then each label's format compliance or lack of any correct verdict, `compliance_warnings`)
    and the provenance of each, from one read of the manifest."""
    manifest = store.manifest()
    found = label_warnings(store, base_label, rl_label, manifest)
    found += compliance_warnings(stored_compliance(store, label) for label in (base_label, rl_label))
    return (found,
            {"base": provenance(store, base_label, manifest), "rl": provenance(store, rl_label, manifest)})


def reward_hacks(store: Store, base_label: str, rl_label: str) -> dict[str, RewardHackCounts]:
    """"base"/"rl" -> that label's current verdicts and how many signal each reward hack."""
    return {"base": reward_hack_counts(store, base_label), "rl": reward_hack_counts(store, rl_label)}


def provenance(store: Store, label: str, manifest: Manifest | None = None) -> dict:
    """What produced `label`'s samples and verdicts ("imported" when tether did not sample them)."""
    manifest = manifest if manifest is not None else store.manifest()
    run = manifest.runs.get(label)
    settings = run.settings if run is not None else None
    totals = sample_totals(store, label)
    details = {
        "label": label,
        "origin": "sampled" if run else "imported",
        "model": settings.engine.model if settings else None,
        "engine": settings.engine.engine if settings else None,
        "decoding": settings.decoding.model_dump() if settings else None,
        "seed": settings.seed if settings else None,
        "k": run.k if run else None,
        "verifier_versions": manifest.versions(label),
        "truncation_rate": totals["truncation_rate"],
        "samples": totals["samples"],
        "tokens": totals["tokens"],
        "adaptive": settings.adaptive if settings else None,
    }
    if details["adaptive"] and run.k and totals["samples"]:  # what a full run of k per task would draw
        details["full_run_samples"] = totals["tasks"] * run.k
        if totals["tokens"] is not None:  # at the same mean length (an estimate: easy tasks stop early)
            details["full_run_tokens"] = round(totals["tokens"] / totals["samples"] * details["full_run_samples"])
    return details


def describe(details: dict) -> str:
    """One line: "base: model X (transformers), temperature 0.6, top_p 0.95, max_tokens 1024, seed 0, k 256;
    verifier math/...; 2.1% cut at max_tokens"."""
    parts = []
    if details.get("origin") == "imported":
        parts.append("imported samples")
    else:
        parts.append(f"model {details.get('model')} ({details.get('engine')})")
        decoding = details.get("decoding") or {}
        parts += [f"{key} {decoding[key]}" for key in ("temperature", "top_p", "max_tokens") if key in decoding]
        parts += [f"seed {details.get('seed')}", f"k {details.get('k')}"]
    line = f"{details['label']}: " + ", ".join(parts)
    versions = details.get("verifier_versions")
    if versions:
        line += "; verifier " + ", ".join(versions.values())
    rate = details.get("truncation_rate")
    if rate is not None:
        line += f"; {rate:.1%} cut at max_tokens"
    if details.get("samples"):
        tokens = details.get("tokens")
        line += f"; {details['samples']:,} samples" + (f", {tokens:,} tokens" if tokens is not None else "")
    if details.get("adaptive") and details.get("full_run_samples"):
        share = details["samples"] / details["full_run_samples"]
        line += f" (adaptive: {share:.0%} of a full run's {details['full_run_samples']:,} samples)"
    return line
