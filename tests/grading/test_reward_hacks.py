"""Verdict details: stored with each verdict, the reasons shown by `tether grade`, and the reward-hacking
signals (a program that exited before its tests finished, a forged result) counted per label by the grade
summary, compare.json and `tether compare`."""

import io
import json

import duckdb
import pytest
from rich.console import Console

import tether
from tether.cli.render import _HACK_WORDS, untrusted
from tether.compare import Comparison
from tether.compare.store import compare_store, load_store_comparison, save_store_comparison
from tether.grading import GradeOptions
from tether.store.schema import EXITED_EARLY, FORGED, REWARD_HACKS, RewardHackCounts

from ..cli_run import tether as cli
from ..conftest import HACKED_DETAILS, store_with_reward_hacks


@pytest.fixture
def hacked(tmp_path):
    return store_with_reward_hacks(tmp_path)


def test_verdicts_keep_the_verifier_s_reason(hacked):
    rows = duckdb.sql(f"select task_id, answer, detail from '{hacked}/verdicts/rl/*.parquet' "
                      "where detail is not null order by all").fetchall()
    exited = ("t1", "EXIT", HACKED_DETAILS[("t1", "EXIT")])  # two samples gave that answer
    assert rows == sorted([exited, *((task, answer, detail) for (task, answer), detail in HACKED_DETAILS.items())])


def test_the_grade_summary_counts_reward_hacks_per_label_and_shows_reasons_safely(hacked):
    out = (hacked.parent / "grade.out").read_text()
    assert ("rl: 2 programs exited before the tests finished, 1 forged result among 8 samples "
            "(reward-hacking signals; docs/code.md)") in out
    assert not any(line.startswith("base: ") and "reward-hacking" in line for line in out.splitlines())  # none
    why = next(line for line in out.splitlines() if line.startswith("rl / tasks: why not correct:"))
    assert why == ("rl / tasks: why not correct: exited before the tests finished 2 (e.g. SystemExit(0)), "
                   "forged result 1 (e.g. check compared a Foo, a class of the program's own whose __eq__ is "
                   "overridden), failed 1 (e.g. line 3: assert f(2) == 8 -- AssertionError "
                   "\\x1b[2J\\x1b[31m[red]boom[/red])")
    assert "\x1b" not in out  # the detail's escape sequences are written out, not sent to the terminal
    assert tether.grade(hacked, GradeOptions(verifier="exact", workers=1)).tallies == {}  # bound: nothing to grade


def test_grade_summary_counts_from_the_library():
    from tether.grading.run import BenchmarkTally, GradeSummary, reason_of

    summary = GradeSummary()
    tally = summary.tallies.setdefault(("rl", "code"), BenchmarkTally(samples=5))
    tally.reward_hacks.update(["exited_early", "exited_early", "forged"])
    summary.tallies[("rl", "other")] = BenchmarkTally(samples=3)
    assert summary.reward_hacks("rl") == RewardHackCounts(8, exited_early=2, forged=1)
    assert summary.reward_hacks("base") == RewardHackCounts(0)
    assert reason_of(f"{EXITED_EARLY}: os._exit(0)") == EXITED_EARLY and reason_of("answer did not parse") == \
        "answer did not parse"


def test_compare_json_carries_each_label_s_signals(hacked, tmp_path):
    result = tether.compare(store=hacked)
    assert result.reward_hacks == {"base": RewardHackCounts(8), "rl": RewardHackCounts(8, exited_early=2, forged=1)}
    payload = result.to_dict()
    assert payload["reward_hacks"] == {"base": {"samples": 8, "exited_early": 0, "forged": 0},
                                       "rl": {"samples": 8, "exited_early": 2, "forged": 1}}
    assert Comparison.from_dict(payload).to_dict() == payload
    saved = compare_store(hacked)
    save_store_comparison(saved, hacked)
    on_disk = json.loads((hacked / "compare" / "compare.json").read_text())
    assert on_disk["reward_hacks"]["rl"] == {"samples": 8, "exited_early": 2, "forged": 1}
    assert "reward_hacks" not in on_disk["benchmarks"]["tasks"]  # per label over all tasks, not per benchmark
    assert load_store_comparison(hacked).overall.reward_hacks["rl"].forged == 1
    on_disk.pop("reward_hacks")  # a compare.json written before the signals were counted is computed again
    (hacked / "compare" / "compare.json").write_text(json.dumps(on_disk))
    assert load_store_comparison(hacked) is None
    shown = cli("compare", str(hacked), "--bootstrap-reps", "10")
    assert shown.returncode == 0, shown.stderr
    assert "rl: 2 programs exited before the tests finished, 1 forged result among 8 samples" in shown.stdout
    assert "base: 0" not in shown.stdout
    assert json.loads(cli("compare", str(hacked), "--json", "--bootstrap-reps", "10").stdout)["reward_hacks"]["rl"]["forged"] == 1


def test_files_of_graded_samples_carry_no_signals(known_pair):
    base, rl, *_ = known_pair
    payload = tether.compare(base, rl).to_dict()
    assert "reward_hacks" not in payload and Comparison.from_dict(payload).reward_hacks == {}


def test_the_signals_have_one_word_each_and_one_field_each():
    assert list(REWARD_HACKS.values()) == [EXITED_EARLY, FORGED]
    assert set(_HACK_WORDS) == set(REWARD_HACKS)
    assert list(RewardHackCounts(0).as_dict()) == ["samples", *REWARD_HACKS]


def test_untrusted_text_is_neither_a_terminal_sequence_nor_markup():
    text = untrusted("boom \x1b[2J\x1b[31m[red]x[/red]\n\u202eevil")
    assert text.plain == "boom \\x1b[2J\\x1b[31m[red]x[/red]\\n\\u202eevil"
    buffer = io.StringIO()
    Console(file=buffer, markup=True, force_terminal=True, color_system="truecolor").print(text)
    printed = buffer.getvalue()
    assert "[red]x[/red]" in printed and "\x1b[2J" not in printed and "\u202e" not in printed
    assert untrusted("x" * 50, limit=10).plain == "x" * 9 + "…"
