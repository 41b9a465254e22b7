"""Terminal rendering (rich) of what the library computes; no computation here."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tether.compare import Comparison
from tether.compare.provenance import describe as describe_provenance
from tether.compare.wording import crossover_line, delta_line, intervals_line, self_line, tests_line
from tether.metrics import REGIONS
from tether.store.schema import REWARD_HACKS, RewardHackCounts

_REGION_NAMES = {"P": "preservation", "S": "shrinkage", "E": "expansion", "O": "out of support"}
_RATE_NAMES = {
    "srr": "SRR  support retention  P/(P+S)",
    "ndr": "NDR  net discovery  E/(P+E)",
    "sds": "SDS  support dynamic score",
    "nscr": "NSCR net support change  (E-S)/(P+E+S)",
}


# how each reward-hacking signal of a verdict's detail (tether.store.schema.REWARD_HACKS) is counted in words
_HACK_WORDS = {"exited_early": ("program exited before the tests finished",
                                "programs exited before the tests finished"),
               "forged": ("forged result", "forged results")}


def untrusted(text: str, limit: int | None = None) -> Text:
    """Text a program or a model wrote (a verdict's detail, a failure's message), made safe to print: every
    character that is not printable (ESC and other controls, newlines, bidirectional overrides) is written as
    its escape (``\\x1b``), so no terminal sequence gets through, and the result is a `Text`, never read as
    rich markup ("[red]" stays text). `limit` shortens it to that many characters first."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    from tether.grading.base import printable  # the one escaping, beside the verifiers that store it

    return Text(printable(text))


def reward_hack_line(counts: RewardHackCounts) -> str:
    """The signals that occurred, in words: "12 programs exited before the tests finished, 3 forged results
    among 3,000 samples (...)"; empty when none did."""
    found = [f"{n:,} {_HACK_WORDS[key][n != 1]}" for key in REWARD_HACKS if (n := getattr(counts, key))]
    if not found:
        return ""
    return f"{', '.join(found)} among {counts.samples:,} samples (reward-hacking signals; docs/code.md)"


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def render_comparison(result: Comparison, console: Console, max_k_columns: int | None = None) -> None:
    """Regions, rates with CIs, pass@k at every k of the grid the console is wide enough for (`max_k_columns` caps
    them), crossover and significance."""
    n_tasks = len(result.task_ids)
    console.print(Text.assemble((result.base.label, "bold"), f" ({result.base.source})  vs  ",
                                (result.rl.label, "bold"), f" ({result.rl.source}): {n_tasks} tasks"))
    for side in ("base", "rl"):
        if side in result.provenance:
            console.print("  " + describe_provenance(result.provenance[side]), highlight=False)
    for side, model in (("base", result.base), ("rl", result.rl)):
        line = reward_hack_line(result.reward_hacks[side]) if side in result.reward_hacks else ""
        if line:
            console.print(f"  {model.label}: {line}", highlight=False)
    console.print(intervals_line(result), highlight=False)
    console.print(_regions_table(result, n_tasks))
    if result.sensitivity is not None:
        render_sensitivity(result.sensitivity, (result.base.label, result.rl.label), console)
    console.print(_rates_table(result))
    console.print(_pass_at_k_table(result, console, max_k_columns))
    console.print(delta_line(result), highlight=False)
    console.print(crossover_line(result), highlight=False)
    if result.extrapolation is not None:
        console.print(_extrapolation_line(result), highlight=False)
    net = result.chance.s_minus_e
    console.print(f"S - E = {net.observed}; two identical models: {_fmt(net.expected, 1)} "
                  f"[{net.interval[0]}, {net.interval[1]}], {_p_is(net.p_value)}", highlight=False)
    if result.self_comparison is not None:
        console.print(self_line(result), highlight=False)
    console.print(tests_line(result), highlight=False)
    console.print(Text.assemble(("conclusion: ", "bold"), result.conclusion.text), highlight=False)


def _extrapolation_line(result: Comparison) -> str:
    """The estimates at the largest extrapolated k the data identify (a model of the tasks, not a measurement),
    and why larger budgets, or all, are not shown."""
    ext = result.extrapolation
    if ext.refused:
        return f"extrapolation: none shown: {ext.refusal}"
    last, k = -1, int(ext.k_grid[-1])
    models = ", ".join(f"{model.label} {ext.means[side][last]:.3f} [{ext.cis[side][0][last]:.3f}, "
                       f"{ext.cis[side][1][last]:.3f}]" for side, model in (("base", result.base), ("rl", result.rl)))
    regions = ", ".join(f"{r} {ext.regions[r][last]:.1f} [{ext.region_cis[r][0][last]:.1f}, {ext.region_cis[r][1][last]:.1f}]"
                        for r in ("S", "E"))
    line = (f"extrapolated (joint model of both models' chances, an estimate, not sampled) to k = {k}: "
            f"mean pass@k {models}; expected {regions}")
    if ext.refused_k.size:
        line += f"; {ext.refusal}"  # "no numbers at k = …: why"
    return line


def _regions_table(result: Comparison, n_tasks: int) -> Table:
    level = f"{result.chance.confidence:.0%}"
    table = Table(title="Support regions", title_justify="left")
    table.add_column("region")
    table.add_column("tasks", justify="right")
    table.add_column("share", justify="right")
    table.add_column(f"chance alone [{level}]", justify="right")
    table.add_column("excess", justify="right")
    table.add_column("p", justify="right")
    table.add_column("p, Holm over S and E", justify="right")
    counts = result.counts.as_dict()
    chance, family = {"S": result.chance.s, "E": result.chance.e}, result.chance.family
    for region in REGIONS:
        share = counts[region] / n_tasks if n_tasks else float("nan")
        row = [f"{region}  {_REGION_NAMES[region]}", str(counts[region]), f"{share:.1%}"]
        if region in chance:
            level_ = chance[region]
            row += [f"{level_.expected:.1f} [{level_.interval[0]}, {level_.interval[1]}]", f"{level_.excess:+.1f}",
                    _p(level_.p_value), _p(family[region]) if level_.p_value > 1e-15 else f"<{family[region]:.0e}"]
        table.add_row(*row)
    return table


def render_sensitivity(found, labels: tuple[str, str], console: Console) -> None:
    """The "Regions by grader" table (`tether.compare.sensitivity`): per verdict set, P/S/E/O with S and E beside
    chance alone, and each model's share correct; then the tasks whose region moves between sets."""
    header, rows = found.table(labels)
    table = Table(title="Regions by grader", title_justify="left")
    for name in header:
        table.add_column(name, justify="left" if name == header[0] else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(found.moved_line(), highlight=False, soft_wrap=True)
    for note in found.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _p_is(value: float) -> str:
    shown = _p(value)
    return f"p {shown[0]} {shown[1:]}" if shown.startswith("<") else f"p = {shown}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value <= 1e-15:
        return "<1e-15"
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _rates_table(result: Comparison) -> Table:
    level = f"{result.options.confidence:.0%} CI"
    over = "over tasks like these" if result.options.intervals == "tasks" else "for these tasks only"
    table = Table(title=f"Support rates (intervals {over})", title_justify="left")
    table.add_column("rate")
    table.add_column("value", justify="right")
    table.add_column(level, justify="right")
    table.add_column("identical models", justify="right")
    at_chance = {"srr": result.chance.srr, "ndr": result.chance.ndr}
    for name, rate in result.rates.items():
        ci = f"[{_fmt(rate.ci.lo)}, {_fmt(rate.ci.hi)}]" if rate.note is None else rate.note
        table.add_row(_RATE_NAMES[name], _fmt(rate.value), ci, _fmt(at_chance.get(name)) if name in at_chance else "")
    return table


def _pass_at_k_table(result: Comparison, console: Console, max_columns: int | None = None) -> Table:
    """Mean pass@k, the paired difference and its CI at every k of the grid: one column per k when they all fit
    the console's width (and `max_columns`), else one row per k, which fits any width a log has. Cells fold
    rather than lose a digit."""
    from rich.measure import Measurement

    grid, level = result.k_grid, f"{result.options.confidence:.0%}"
    lo, hi = result.delta_pass_at_k_ci
    band_lo, band_hi = result.band
    rows = {result.base.label: [_fmt(value) for value in result.pass_at_k["base"]],
            result.rl.label: [_fmt(value) for value in result.pass_at_k["rl"]],
            f"{result.rl.label} - {result.base.label}": [f"{value:+.3f}" for value in result.delta_pass_at_k],
            f"paired pointwise {level} CI": [f"{a:+.3f}..{b:+.3f}" for a, b in zip(lo, hi)],
            f"paired simultaneous {level} band": [f"{a:+.3f}..{b:+.3f}" for a, b in zip(band_lo, band_hi)]}
    wide = Table(title="Mean pass@k over tasks", title_justify="left")
    wide.add_column("model", overflow="fold")
    for k in grid:
        wide.add_column(f"k={int(k)}", justify="right", no_wrap=True, overflow="fold")
    for name, cells in rows.items():
        wide.add_row(f"  {name}" if name.startswith("paired") else name, *cells)
    natural = Measurement.get(console, console.options.update(width=100_000), wide).maximum  # not the console's
    if natural <= console.width and (max_columns is None or len(grid) <= max_columns):
        return wide
    long = Table(title="Mean pass@k over tasks (one row per k)", title_justify="left")
    long.add_column("k", justify="right", overflow="fold")
    for name in rows:
        long.add_column(name, justify="right", overflow="fold")
    for i, k in enumerate(grid):
        long.add_row(str(int(k)), *(cells[i] for cells in rows.values()))
    return long


def render_grade_summary(summary, console: Console) -> None:
    """Per label and benchmark: correct, incorrect, no answer, timeout, error, mean score; each label's format
    compliance; then examples, and the warnings (`render_grading_warnings`)."""
    from tether.grading.compliance import compliance, compliance_line

    if not summary.tallies:
        console.print("nothing to grade: every sample already has a verdict under the current verifier versions "
                      "(--regrade grades them again)", highlight=False)
        return
    table = Table(title="Grading", title_justify="left")
    for name in ("label", "benchmark", "samples", "correct", "incorrect", "no answer", "timeout", "error", "mean score",
                 "not graded"):
        table.add_column(name, justify="left" if name in ("label", "benchmark") else "right")
    for (label, benchmark), tally in sorted(summary.tallies.items()):
        table.add_row(label, benchmark, str(tally.samples), str(tally.correct), str(tally.incorrect),
                      str(tally.statuses["no_answer"]), str(tally.statuses["timeout"]), str(tally.statuses["error"]),
                      _fmt(tally.mean_score), str(tally.statuses["failed"]))
    console.print(table)
    console.print(
        f"{summary.distinct_answers} distinct (task, answer) pairs: {summary.verified} verified, "
        f"{summary.cache_hits} from the cache; {summary.workers_replaced} hung or crashed workers replaced",
        highlight=False,
    )
    for label, n in sorted(summary.changed.items()):
        console.print(f"{label}: {n} samples' text changed since their verdicts graded it (refilled or replaced): "
                      f"every sample of {label} graded again under a new verifier version, answers already in the "
                      "cache carried over", highlight=False)
    for label, n in sorted(summary.unbound.items()):
        console.print(f"{label}: {n} verdicts from before verdicts kept the text they graded: graded again once "
                      "under a new verifier version, answers already in the cache carried over", highlight=False)
    for label in sorted({label for label, _ in summary.tallies}):
        line = reward_hack_line(summary.reward_hacks(label))
        if line:
            console.print(f"{label}: {line}", highlight=False)
    for found in compliance(summary).values():
        console.print(compliance_line(found), highlight=False, soft_wrap=True)
    for (label, benchmark), tally in sorted(summary.tallies.items()):
        console.print(f"{label} / {benchmark}: {extraction_line(tally)}", highlight=False)
        if "vision_math" in tally.verifiers:
            console.print(f"{label} / {benchmark}: {decided_line(tally)}", highlight=False)
        if tally.reasons:
            console.print(Text.assemble(f"{label} / {benchmark}: why not correct: ", reasons_text(tally)),
                          highlight=False)
    for name, mode in sorted(summary.extraction_modes.items()):
        console.print(f"{name} extraction: {mode}", highlight=False)
    if summary.no_gold:
        console.print(f"graded by their scorer alone (no stored gold answer): {', '.join(sorted(summary.no_gold))}")
    for title, examples in (("no answer extracted", summary.no_answer_examples),
                            ("timed out twice (counted incorrect)", summary.timeout_examples)):
        if examples:
            console.print(Text.assemble((title, "bold"), ", e.g.:"))
            for task_id, text in examples[:3]:
                console.print(f"  {task_id}: ...{text!r}", highlight=False)
    render_grading_warnings(summary, console)


def render_verdict_sets(summary, console: Console) -> None:
    """A line per verdict set graded beside the one that counts (`--verifier auto,exact`): each label's correct
    samples among those graded now under it, and how to compare the sets."""
    if not summary.sets:
        return
    for name, found in summary.sets.items():
        per_label: dict[str, list[int]] = {}
        for (label, _), tally in sorted(found.tallies.items()):
            totals = per_label.setdefault(label, [0, 0])
            totals[0] += tally.correct
            totals[1] += tally.samples
        graded = ", ".join(f"{label} {c:,} of {n:,} correct" for label, (c, n) in per_label.items())
        changed = "".join(f"; {label}: {n} samples' text changed since, graded again under a new version"
                          for label, n in sorted(found.changed.items()))
        console.print(f"verdict set {name} (kept beside {summary.counted}, which counts): "
                      + (graded or "nothing to grade (every sample has its verdict)") + changed, highlight=False)
    names = ",".join([summary.counted, *summary.sets])
    console.print(f"the regions under each: tether compare STORE --verifiers {names}", highlight=False)


def render_grading_warnings(summary, console: Console) -> None:
    """A loud line per model whose format compliance is low or with no correct sample, with the likely cause."""
    from tether.grading.compliance import warnings

    for line in warnings(summary):
        console.print(Text.assemble(("warning: ", "bold red"), line), highlight=False, soft_wrap=True)


def reasons_text(tally, top: int = 3, example_chars: int = 80) -> Text:
    """The most common reasons the verifier gave for samples that were not correct, with counts and the rest
    of a detail that gave each ("failed 31 (e.g. line 4: assert f(1) == 2 -- AssertionError), syntax error 6
    (e.g. line 2: invalid syntax)")."""
    parts = []
    for reason, n in tally.reasons.most_common(top):
        example = tally.reason_examples[reason][len(reason):].lstrip(": ")
        parts.append(Text.assemble(untrusted(reason), f" {n:,}",
                                   *(((" (e.g. ", untrusted(example, example_chars), ")")) if example else ())))
    if len(tally.reasons) > top:
        parts.append(Text(f"{len(tally.reasons) - top} other reasons"))
    return Text(", ").join(parts)


def extraction_line(tally) -> str:
    """How the answers were found ("box 80%, final_answer 12%, none 8%") and the requested format's share."""
    from tether.grading.compliance import route_shares

    line = f"answers found by {route_shares(tally.routes)}"
    if tally.format_asked:
        line += f"; {tally.format_share:.0%} followed the format the prompt asked for"
    return line


def decided_line(tally) -> str:
    """Who decided a vision_math benchmark's verdicts: "decided by the rules 950, the judge 30; 20 unreadable"."""
    from tether.grading.vision import decided_by

    found = decided_by(tally.routes)
    return (f"decided by the rules {found['rules']:,}, the judge {found['judge']:,}; "
            f"{found['unreadable']:,} unreadable (no answer)")


def render_grading_failures(summary, console: Console) -> None:
    """The samples grading failed on (no verdict written), and what to do."""
    console.print(Text.assemble((f"{summary.failed} samples could not be graded", "red"),
                                " (no verdict stored; run `tether grade` again to retry them), e.g.:"))
    for task_id, detail in summary.failure_examples[:3]:
        console.print(Text.assemble(f"  {task_id}: ", untrusted(detail)), highlight=False)


def render_sample_summary(summary, out: Console, err: Console) -> bool:
    """What `tether sample` did; False when some units failed (listed on `err`)."""
    for warning in summary.warnings:
        err.print(Text.assemble(("warning:", "yellow"), f" {warning}"), highlight=False)
    out.print(
        f"{summary.label}: wrote {summary.samples_written} samples ({summary.tokens_written} tokens) in "
        f"{summary.seconds:.1f} s; {summary.units_skipped} of {summary.units_total} units were already done",
        highlight=False,
    )
    if summary.failed:
        err.print(Text.assemble((f"{len(summary.failed)} units failed", "red"),
                                " (re-run the same command to retry them):"))
        for name, error in summary.failed[:10]:
            err.print(f"  {name}: {error}", highlight=False)
    return summary.ok


def render_adaptive_summary(summary, out: Console, err: Console) -> bool:
    """What `tether sample --adaptive` did: rounds, samples against a full run's, failed units."""
    for done in summary.summaries:
        for warning in done.warnings:
            err.print(Text.assemble(("warning:", "yellow"), f" {warning}"), highlight=False)
    full = summary.k * len(summary.samples)
    drawn = sum(summary.samples.values())
    rounds = ", ".join(f"{end} ({tasks} tasks)" for end, tasks in summary.rounds) or "none (complete)"
    rule = " (regions rule: stopped at the first success)" if summary.rule.regions else ""
    out.print(f"{summary.label}: adaptive{rule} to k = {summary.k}: rounds {rounds}; {drawn:,} samples held of a full "
              f"run's {full:,} ({drawn / full:.0%}), {summary.stopped_early} of {len(summary.samples)} tasks stopped "
              f"before k; {summary.samples_written:,} samples ({summary.tokens_written:,} tokens) written now",
              highlight=False, soft_wrap=True)
    if summary.failed:
        err.print(Text.assemble((f"{len(summary.failed)} units failed", "red"),
                                " (re-run the same command to retry them and go on):"))
        for name, error in summary.failed[:10]:
            err.print(f"  {name}: {error}", highlight=False)
    return summary.ok


def render_lab_analysis(analysis, comparison: Comparison, console: Console) -> None:
    """Exact values of the lab pair next to the sampled estimates."""
    table = Table(title=f"Regions at k = {analysis.k}: sampled vs exact expectation", title_justify="left")
    for name in ("region", "sampled", "exact (expected)", "exact P(>= 1 task)"):
        table.add_column(name, justify="left" if name == "region" else "right")
    sampled = comparison.counts.as_dict()
    for region in REGIONS:
        table.add_row(f"{region}  {_REGION_NAMES[region]}", str(sampled[region]),
                      f"{analysis.expected_regions[region]:.2f}", f"{analysis.region_chance[region]:.3f}")
    console.print(table)
    curve = Table(title="Mean pass@k: sampled [95% CI] vs exact", title_justify="left")
    curve.add_column("k", justify="right")
    for label in ("base", "rl"):
        curve.add_column(f"{label} sampled", justify="right")
        curve.add_column(f"{label} exact", justify="right")
    for i, k in enumerate(analysis.k_grid):
        cells = []
        for label in ("base", "rl"):
            lo, hi = (comparison.pass_at_k_ci[label][0][i], comparison.pass_at_k_ci[label][1][i])
            cells += [f"{comparison.pass_at_k[label][i]:.3f} [{lo:.3f}, {hi:.3f}]", f"{analysis.pass_at_k[label][i]:.3f}"]
        curve.add_row(str(int(k)), *cells)
    console.print(curve)
    modes = analysis.mode_regions
    console.print(
        f"solution modes by epsilon-support (epsilon = {analysis.epsilon:.2e}): "
        f"P {modes['P']}, S {modes['S']}, E {modes['E']}, O {modes['O']}", highlight=False)
    console.print(
        f"support preservation: {len(analysis.support_violations)} correct RL modes above epsilon with base "
        f"probability <= {analysis.lower:g}", highlight=False)
    for task_id, text, p_rl, p_base in analysis.support_violations[:5]:
        console.print(f"  {task_id} {text!r}: RL {p_rl:.2e}, base {p_base:.2e}", highlight=False)
    console.print(
        f"KL-regularised optimum (tilt {analysis.tilt:g}): TV(tabular optimiser, closed form) max "
        f"{analysis.tv_tabular:.1e}; TV(GRPO network, closed form) mean {sum(analysis.tv_grpo) / len(analysis.tv_grpo):.3f}",
        highlight=False)
    console.print(f"enumerated probability mass: at least {analysis.min_mass:.7f} per prompt and model", highlight=False)


def render_answer_stats(answers: dict, analysis, console: Console) -> None:
    """avg@k and answer entropy (sampled), beside the exact mean P(correct) and distribution entropy."""
    k = next(iter(answers.values())).k
    table = Table(title=f"avg@{k} and answer entropy (nats)", title_justify="left")
    for name in ("model", f"avg@{k}", "exact P(correct)", f"answer entropy ({k} samples)", "exact entropy"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for label, stats in answers.items():
        table.add_row(label, f"{stats.avg_at_k:.3f}", f"{analysis.mean(label, 'p_correct'):.3f}",
                      f"{stats.answer_entropy:.3f}", f"{analysis.mean(label, 'entropy'):.3f}")
    console.print(table)


def render_diagnostics(rows, console: Console, notes=()) -> None:
    """The paper's Table 3 (per benchmark: avg@k, answer and token entropy) and perplexity by region; then
    `notes` (`tether.diagnostics.CurrentDiagnostics.notes`: what was recomputed, or is stale, and why)."""
    from tether.report.tables import is_approximate, perplexity_table, table3

    header, body = table3(rows)
    table = Table(title="Diagnostics (entropies in nats)", title_justify="left")
    for name in header:
        table.add_column(name, justify="left" if name in ("benchmark", "model") else "right")
    for cells in body:
        table.add_row(*cells)
    console.print(table)
    if any(is_approximate(r) for r in rows):
        console.print("* token entropy from the top-k log-probs the engine returns (an approximation)", highlight=False)
    header, body = perplexity_table(rows)
    if body:
        ppl = Table(title="Perplexity on reference traces (per token), by support region of the task",
                    title_justify="left")
        for name in header:
            ppl.add_column(name, justify="left" if name == "model" else "right")
        for cells in body:
            ppl.add_row(*cells)
        console.print(ppl)
    for note in notes:
        console.print(note, style="yellow" if note.startswith("stale") else None, highlight=False)


def render_judge_agreement(agreement, console: Console) -> None:
    """The judge's agreement with the bundled calibration set, and where it disagreed."""
    console.print(f"judge agreement on the calibration set: {agreement.agreed}/{agreement.total} "
                  f"({agreement.rate:.0%}); {agreement.failed} requests failed", highlight=False)
    for question, answer, expected, got in agreement.disagreements[:10]:
        console.print(f"  expected {expected}, judged {got}: {question} -> {answer!r}", highlight=False)


def render_plan(plan, console: Console) -> None:
    """`tether run --check`: what the experiment would do and what it would cost, before any model loads."""
    console.print(f"{plan.path}: valid; nothing was loaded or sampled", highlight=False)
    console.print(f"store: {plan.store}", highlight=False)
    parts = ", ".join(f"{part} ({'?' if n is None else f'{n:,}'})" for part, n in plan.tasks.items())
    console.print(f"tasks: {plan.n_tasks:,} = {parts}", highlight=False, soft_wrap=True)
    bounded = plan.mean_tokens == plan.max_tokens
    table = Table(show_edge=False, pad_edge=False)
    for column in ("label", "model", "engine", "decoding", "samples", "tokens", "GPU hours"):
        table.add_column(column, justify="right" if column in ("samples", "tokens", "GPU hours") else "left",
                         overflow="fold")
    for m in plan.models:
        tokens, hours = _tokens(m.expected_tokens), f"{plan.gpu_hours(m.expected_tokens):,.1f}"
        if not bounded:
            tokens += f" (≤ {_tokens(m.max_tokens)})"
            hours += f" (≤ {plan.gpu_hours(m.max_tokens):,.1f})"
        table.add_row(m.label, m.model, m.engine, f"T {m.temperature:g}, top_p {m.top_p:g}, seed {m.seed}",
                      f"{m.samples:,}", tokens, hours)
    console.print(table)
    total = sum(m.expected_tokens for m in plan.models)
    length = "every completion at max_tokens, the upper bound" if bounded else \
        f"a mean completion of {plan.mean_tokens:,} tokens"
    which = "both models" if len(plan.models) == 2 else f"all {len(plan.models)} models"
    console.print(f"k = {plan.k:,}, max_tokens = {plan.max_tokens:,}: {which} {_tokens(total)} tokens with "
                  f"{length}; {plan.gpu_hours(total):,.1f} GPU hours at {plan.throughput:,.0f} generated tokens/s "
                  "per GPU (set --throughput to your engine's measured rate and --mean-tokens from a pilot run)",
                  highlight=False, soft_wrap=True)
    pairs = [f"{m.label}{f' (run {m.run}, step {m.step})' if m.run else ''} with {m.base}"
             for m in plan.models if m.base is not None]
    if len(pairs) > 1 or any(m.run for m in plan.models):  # a study (a pair's plan reads as it always did)
        console.print(f"compared: {'; '.join(pairs)}", highlight=False, soft_wrap=True)
    console.print(f"stages: {' -> '.join(plan.stages)}", highlight=False)
    for line in plan.diagnose.lines(plan.gpu_hours, plan.throughput) if plan.diagnose else ():
        console.print(line, highlight=False, soft_wrap=True)
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _tokens(n: int) -> str:
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:,.2f}{unit}"
    return f"{n:,}"


def render_likelihood(result, console: Console) -> None:
    """`tether likelihood`: per task the other model's estimated chance, the forks, the impossible tokens."""
    from tether.likelihood.run import BUDGET_FACTOR
    from tether.metrics.bound import format_probability

    table = Table(show_edge=False, pad_edge=False, title=f"{result.base_label} vs {result.rl_label}: each task's "
                  f"chance for the model that did not solve it (k = {result.k}, ε = {format_probability(result.epsilon)})")
    for column in ("task", "region", "target", "its own", "estimate", "95% CI", "ESS", "distinct",
                   "samples to solve once"):
        table.add_column(column, justify="left" if column in ("task", "region", "target") else "right")
    for t in result.tasks:
        e = t.estimate
        needed, (low, high) = e.samples_needed()
        ci = f"[{format_probability(e.ci[0])}, {format_probability(e.ci[1])}]"
        if t.reachable in ("estimated", "few completions"):
            estimate = format_probability(e.q_hat) + (" *" if t.reachable == "few completions" else "")
            solve = f"≈ {_count(needed)} [{_count(low)}, {_count(high)}]"
        else:  # out of reach of every completion seen, still below its own bound; or no estimate at all
            estimate, ci, solve = t.reachable, ci if t.reachable == "out of reach" else "", ""
        table.add_row(t.task_id, t.region, t.target, f"{t.observed[0]}/{t.observed[1]}", estimate, ci,
                      f"{e.ess:.1f}", f"{e.distinct}", solve)
    console.print(table)
    from tether.metrics.importance import MIN_DISTINCT

    few = [t for t in result.tasks if t.reachable == "few completions"]
    if few:
        named = ", ".join(f"{t.task_id}: {t.estimate.distinct}" for t in few[:8]) + (", …" if len(few) > 8 else "")
        console.print(f"* fewer than {MIN_DISTINCT} distinct correct completions ({named}): the samples cannot show "
                      "what they leave out, so the interval runs from the chance of the completions seen to the "
                      "target's own 95% bound on its chance; not trusted", highlight=False, soft_wrap=True)
    for region, counts in result.summary().items():
        console.print(f"{region}: {counts['reachable']} rare but reachable (estimate >= "
                      f"{format_probability(result.threshold)}, the ε of a {BUDGET_FACTOR}x budget), {counts['below']} below it, "
                      f"{counts['out of reach']} out of reach, {counts['few completions']} on too few distinct correct "
                      f"completions, {counts['no estimate']} without a trustworthy estimate (weights too uneven)",
                      highlight=False, soft_wrap=True)
    for t in result.tasks:
        if t.outside:
            index, fork = t.outside[0]
            console.print(f"{t.task_id}: {len(t.outside)} of {t.proposal}'s correct samples need a token {t.target}'s "
                          f"sampler can never emit, e.g. sample {index}: {fork.token!r} at position {fork.position}, "
                          f"after …{fork.context!r}", highlight=False, soft_wrap=True)
    for t in result.tasks:
        if t.region == "E" and t.forks:
            where = "; ".join(f"{f.token!r} at {f.position} ({f.drop:+.1f} nats) after …{f.context[-30:]!r}"
                              for f in t.forks)
            console.print(f"{t.task_id}: where {t.proposal} departs from {t.target} (sample {t.fork_sample}): {where}",
                          highlight=False, soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _count(value: float) -> str:
    return "∞" if not math.isfinite(value) else f"{value:,.0f}" if value < 1e6 else f"{value:.2g}"


def render_budget(plan, console: Console) -> None:
    """`tether plan`: a full and an adaptive run of k samples per task, from the pilot in the store."""
    r = plan.rule
    table = Table(show_edge=False, pad_edge=False, title=f"k = {plan.k:,} per task; adaptive: rounds of {r.first}, "
                  f"x{r.growth}, stop once solved and pass@k >= {1 - r.tol:g} ({r.confidence:.0%} Clopper-Pearson)")
    for column in ("label", "tasks", "pilot", "full run", "adaptive run (expected)", "saved", "stop early",
                   "unsolved at k", "floor (expected)"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for m in plan.models:
        per = "" if m.tokens_per_sample is None else f", {m.tokens_per_sample:,.0f} tok/sample"
        table.add_row(m.label, f"{m.tasks:,}", f"{m.pilot_samples:,.0f}/task{per}", _cost(plan, m, m.full_samples),
                      _cost(plan, m, m.adaptive_samples), f"{1 - m.adaptive_samples / m.full_samples:.0%}",
                      f"{m.stopped_early:,.1f}", f"{m.unsolved_at_k:,.1f}",
                      "" if m.floor_samples is None else _cost(plan, m, m.floor_samples))
    console.print(table)
    chance = plan.chance
    beside = "" if chance is None else \
        f" (two identical models: {chance.expected:,.1f} [{chance.interval[0]}, {chance.interval[1]}])"
    if plan.regions_at_k is None:
        regions = f"none shown: {plan.regions_refusal}"
    else:
        cis = plan.regions_ci or {}
        regions = f"(joint model of both models' chances, {plan.confidence:.0%} interval) " + ", ".join(
            f"{name} {value:,.1f}" + (f" [{cis[name][0]:,.1f}, {cis[name][1]:,.1f}]" if name in cis else "")
            + (beside if name in ("S", "E") else "") for name, value in plan.regions_at_k.items())
    console.print(f"expected regions at k: {regions} (the adaptive run's regions are the full run's, task by task); "
                  f"GPU hours at {plan.throughput:,.0f} generated tokens/s per GPU (--throughput); floor: each task "
                  "stopped at its first success, the least any run with the full run's regions draws "
                  "(--adaptive-rule regions comes near it)",
                  highlight=False, soft_wrap=True)
    if plan.conclusion:
        console.print(Text.assemble(("conclusion: ", "bold"), plan.conclusion), highlight=False, soft_wrap=True)
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _cost(plan, model, samples: float) -> str:
    tokens = model.tokens(samples)
    if tokens is None:
        return f"{samples:,.0f} samples"
    return f"{samples:,.0f} samples, {_tokens(int(tokens))} tok, {plan.gpu_hours(tokens):,.2f} GPU h"
