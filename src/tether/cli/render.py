"""Terminal rendering (rich) of what the library computes; no computation here."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tether.compare import Comparison
from tether.compare.provenance import describe as describe_provenance
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


def render_comparison(result: Comparison, console: Console, max_k_columns: int = 10) -> None:
    """Regions, rates with CIs, pass@k at a few k, crossover and significance."""
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
    console.print(_regions_table(result, n_tasks))
    console.print(_rates_table(result))
    console.print(_pass_at_k_table(result, max_k_columns))
    console.print(_crossover_line(result), highlight=False)
    if result.extrapolation is not None:
        console.print(_extrapolation_line(result), highlight=False)
    net = result.chance.s_minus_e
    console.print(f"S - E = {net.observed}; two identical models: {_fmt(net.expected, 1)} "
                  f"[{net.interval[0]}, {net.interval[1]}], {_p_is(net.p_value)}", highlight=False)
    if result.self_comparison is not None:
        own = result.self_comparison
        console.print(f"{own.label} against itself (even vs odd samples, {own.samples_per_half} per task each): "
                      f"S {own.counts.S}, E {own.counts.E}; chance alone {own.s.expected:.1f} "
                      f"[{own.s.interval[0]}, {own.s.interval[1]}] each: the noise floor at half the budget",
                      highlight=False)
    sig, alpha, fewest = result.significant, result.options.alpha, result.fewest_successes
    need = f"a task needs >= {fewest['S']} successes (S) or >= {fewest['E']} (E) to ever reach p <= {alpha}"
    console.print(
        f"significant tasks at q <= {alpha} (one-sided exact test, Benjamini-Hochberg over the {result.tested} tasks "
        f"with a success): S {sig['S']} of {result.counts.S}, E {sig['E']} of {result.counts.E}; {need}",
        highlight=False,
    )


def _crossover_line(result: Comparison) -> str:
    cross = result.crossover
    share = f"{cross.without:.0%} of bootstrap replicates have none"
    if cross.k is None:
        line = f"crossover: none (the base does not overtake the RL model for good on this k grid; {share})"
    else:
        verdict = ("the base is significantly ahead past it" if cross.significant else
                   "no significant crossover: the paired CI of the difference includes 0 at every k past it")
        line = (f"crossover: the base overtakes the RL model at k ≈ {cross.k:.1f} "
                f"[{_fmt(cross.ci[0], 1)}, {_fmt(cross.ci[1], 1)}; {share}]; {verdict}")
    if len(cross.crossings) > 1:
        line += "\ncrossings: " + ", ".join(f"k ≈ {c.k:.1f} ({c.leader} leads)" for c in cross.crossings)
    return line


def _extrapolation_line(result: Comparison) -> str:
    """The estimates at the largest extrapolated k: a model of the tasks, not a measurement."""
    ext, last = result.extrapolation, -1
    k = int(ext.k_grid[last])
    models = ", ".join(f"{model.label} {ext.means[side][last]:.3f} [{ext.cis[side][0][last]:.3f}, "
                       f"{ext.cis[side][1][last]:.3f}]" for side, model in (("base", result.base), ("rl", result.rl)))
    regions = ", ".join(f"{r} {ext.regions[r][last]:.1f} [{ext.region_cis[r][0][last]:.1f}, {ext.region_cis[r][1][last]:.1f}]"
                        for r in ("S", "E"))
    cross = f"; the base overtakes at k ≈ {ext.crossover_k:.0f}" if ext.crossover_k and result.crossover_k is None else ""
    return (f"extrapolated (beta-binomial estimate, not sampled) to k = {k}: mean pass@k {models}; "
            f"expected {regions}{cross}")


def _regions_table(result: Comparison, n_tasks: int) -> Table:
    level = f"{result.chance.confidence:.0%}"
    table = Table(title="Support regions", title_justify="left")
    table.add_column("region")
    table.add_column("tasks", justify="right")
    table.add_column("share", justify="right")
    table.add_column(f"chance alone [{level}]", justify="right")
    table.add_column("excess", justify="right")
    table.add_column("p", justify="right")
    counts = result.counts.as_dict()
    chance = {"S": result.chance.s, "E": result.chance.e}
    for region in REGIONS:
        share = counts[region] / n_tasks if n_tasks else float("nan")
        row = [f"{region}  {_REGION_NAMES[region]}", str(counts[region]), f"{share:.1%}"]
        if region in chance:
            level_ = chance[region]
            row += [f"{level_.expected:.1f} [{level_.interval[0]}, {level_.interval[1]}]", f"{level_.excess:+.1f}",
                    _p(level_.p_value)]
        table.add_row(*row)
    return table


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
    table = Table(title="Support rates (bootstrap over tasks)", title_justify="left")
    table.add_column("rate")
    table.add_column("value", justify="right")
    table.add_column(level, justify="right")
    table.add_column("identical models", justify="right")
    at_chance = {"srr": result.chance.srr, "ndr": result.chance.ndr}
    for name, rate in result.rates.items():
        ci = f"[{_fmt(rate.ci.lo)}, {_fmt(rate.ci.hi)}]" if rate.note is None else rate.note
        table.add_row(_RATE_NAMES[name], _fmt(rate.value), ci, _fmt(at_chance.get(name)) if name in at_chance else "")
    return table


def _pass_at_k_table(result: Comparison, max_columns: int) -> Table:
    grid = result.k_grid
    picks = np.unique(np.round(np.linspace(0, len(grid) - 1, min(max_columns, len(grid)))).astype(int))
    table = Table(title="Mean pass@k over tasks", title_justify="left")
    table.add_column("model")
    for i in picks:
        table.add_column(f"k={int(grid[i])}", justify="right")
    for label, model in (("base", result.base), ("rl", result.rl)):
        table.add_row(model.label, *(_fmt(result.pass_at_k[label][i]) for i in picks))
    lo, hi = result.delta_pass_at_k_ci
    table.add_row(f"{result.rl.label} - {result.base.label}", *(f"{result.delta_pass_at_k[i]:+.3f}" for i in picks))
    table.add_row(f"  paired {result.options.confidence:.0%} CI", *(f"{lo[i]:+.2f}..{hi[i]:+.2f}" for i in picks))
    return table


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
    out.print(f"{summary.label}: adaptive to k = {summary.k}: rounds {rounds}; {drawn:,} samples held of a full "
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


def render_diagnostics(rows, console: Console) -> None:
    """The paper's Table 3 (per benchmark: avg@k, answer and token entropy) and perplexity by region."""
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
    if not body:
        return
    ppl = Table(title="Perplexity on reference traces (per token), by support region of the task", title_justify="left")
    for name in header:
        ppl.add_column(name, justify="left" if name == "model" else "right")
    for cells in body:
        ppl.add_row(*cells)
    console.print(ppl)


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
    console.print(f"k = {plan.k:,}, max_tokens = {plan.max_tokens:,}: both models {_tokens(total)} tokens with "
                  f"{length}; {plan.gpu_hours(total):,.1f} GPU hours at {plan.throughput:,.0f} generated tokens/s "
                  "per GPU (set --throughput to your engine's measured rate and --mean-tokens from a pilot run)",
                  highlight=False, soft_wrap=True)
    console.print(f"stages: {' -> '.join(plan.stages)}", highlight=False)
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
    for column in ("task", "region", "target", "its own", "estimate", "95% CI", "ESS", "samples to solve once"):
        table.add_column(column, justify="left" if column in ("task", "region", "target") else "right")
    for t in result.tasks:
        e = t.estimate
        needed, (low, high) = e.samples_needed()
        if t.reachable == "estimated":
            estimate, ci = format_probability(e.q_hat), f"[{format_probability(e.ci[0])}, {format_probability(e.ci[1])}]"
            solve = f"≈ {_count(needed)} [{_count(low)}, {_count(high)}]"
        else:
            estimate, ci, solve = t.reachable, "", ""
        table.add_row(t.task_id, t.region, t.target, f"{t.observed[0]}/{t.observed[1]}", estimate, ci,
                      f"{e.ess:.1f}", solve)
    console.print(table)
    for region, counts in result.summary().items():
        console.print(f"{region}: {counts['reachable']} rare but reachable (estimate >= "
                      f"{format_probability(result.threshold)}, the ε of a {BUDGET_FACTOR}x budget), {counts['below']} below it, "
                      f"{counts['out of reach']} out of reach, {counts['no estimate']} without a trustworthy estimate "
                      "(weights too uneven)", highlight=False, soft_wrap=True)
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
                   "unsolved at k"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for m in plan.models:
        per = "" if m.tokens_per_sample is None else f", {m.tokens_per_sample:,.0f} tok/sample"
        table.add_row(m.label, f"{m.tasks:,}", f"{m.pilot_samples:,.0f}/task{per}", _cost(plan, m, m.full_samples),
                      _cost(plan, m, m.adaptive_samples), f"{1 - m.adaptive_samples / m.full_samples:.0%}",
                      f"{m.stopped_early:,.1f}", f"{m.unsolved_at_k:,.1f}")
    console.print(table)
    regions = ", ".join(f"{name} {value:,.1f}" for name, value in plan.regions_at_k.items())
    console.print(f"expected regions at k: {regions} (the adaptive run's regions are the full run's, task by task); "
                  f"GPU hours at {plan.throughput:,.0f} generated tokens/s per GPU (--throughput)",
                  highlight=False, soft_wrap=True)
    for note in plan.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _cost(plan, model, samples: float) -> str:
    tokens = model.tokens(samples)
    if tokens is None:
        return f"{samples:,.0f} samples"
    return f"{samples:,.0f} samples, {_tokens(int(tokens))} tok, {plan.gpu_hours(tokens):,.2f} GPU h"
