"""One compare path (issue 33): `tether compare STORE` keeps its result in the store as `tether run` does (the
file it prints with --json, where `tether report` finds it; a comparison of files keeps nothing), and every
store-based comparison opens its store once."""

import errno
import json
import shutil

import pytest

import tether
from tether.compare import CompareOptions
from tether.compare import store as kept
from tether.compare.store import compare_store
from tether.compare.study import compare_study
from tether.report import build_report
from tether.store.local import Store

from ..cli_run import tether as cli
from ..conftest import graded_rows, write_jsonl
from .test_study import BASE, CHILD_A, CHILD_B, _store

FAST = ("--bootstrap-reps", "10")
OPTIONS = CompareOptions(bootstrap_reps=10)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("one-path"), {"base": BASE, "rl": CHILD_A, "b": CHILD_B})


@pytest.fixture
def store(made, tmp_path):
    """A copy of the store without anything kept in compare/."""
    return shutil.copytree(made, tmp_path / "s", ignore=shutil.ignore_patterns("compare"))


def test_compare_store_keeps_what_it_prints_and_the_report_reads_it(store, tmp_path, monkeypatch):
    shown = cli("compare", store, *FAST, "--json")
    assert shown.returncode == 0, shown.stderr
    saved = json.loads((store / "compare" / "compare.json").read_text())
    assert saved == json.loads(shown.stdout)
    assert sorted(p.name for p in (store / "compare").iterdir()) == ["compare.json", "tasks.csv"]  # no leftovers
    assert saved["benchmarks"] and saved["stamp"]  # the form `tether run` keeps
    assert kept.load_store_comparison(store, options=OPTIONS) is not None  # current: the report's to show
    monkeypatch.setattr(kept, "compare_store", lambda *a, **k: pytest.fail("compared again"))
    report = cli("report", store, *FAST, "--out", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["overall"]["counts"] == saved["counts"]


def test_a_study_of_the_store_is_kept_there(store):
    shown = cli("compare", store, "--rl", "rl", "--rl", "b", *FAST, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads((store / "compare" / "study.json").read_text()) == json.loads(shown.stdout)
    assert sorted(p.name for p in (store / "compare").iterdir()) == ["pair.csv", "study.csv", "study.json"]


def test_files_and_two_sources_keep_nothing(store, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    base = write_jsonl(files / "b.jsonl", graded_rows(BASE, seed=1))
    rl = write_jsonl(files / "r.jsonl", graded_rows(CHILD_A, seed=2))
    assert cli("compare", base, rl, *FAST).returncode == 0
    assert sorted(p.name for p in files.iterdir()) == ["b.jsonl", "r.jsonl"]
    assert cli("compare", store, store, "--base", "base", "--rl", "rl", *FAST).returncode == 0  # two sources
    assert not (store / "compare").exists()


def test_a_store_that_refuses_the_write_still_gives_the_comparison(store, monkeypatch):
    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(store / "compare"))

    monkeypatch.setattr(kept, "save_comparison", refused)
    shown = cli("compare", store, *FAST, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["counts"] == {"P": 3, "S": 2, "E": 1, "O": 2}
    assert f"warning: the comparison is not kept in {store / 'compare'}: [Errno 30] Read-only" in shown.stderr


@pytest.fixture
def opens(monkeypatch):
    """How many times a local store is opened (a `Store` made)."""
    made = []
    init = Store.__init__

    def counted(self, root):
        made.append(root)
        init(self, root)

    monkeypatch.setattr(Store, "__init__", counted)
    return made


@pytest.mark.parametrize("call", [
    lambda s: tether.compare(store=s, options=OPTIONS),
    lambda s: tether.compare(store=s, options=OPTIONS, self_label="base"),
    lambda s: tether.compare(s, s, base_label="base", rl_label="rl", options=OPTIONS),  # one store, two sources
    lambda s: compare_store(s, options=OPTIONS, self_label="rl"),
    lambda s: build_report(s, s.parent / "report", options=OPTIONS),
    lambda s: compare_study(s, ["rl", "b"], options=OPTIONS),
    lambda s: cli("compare", s, *FAST),
    lambda s: cli("compare", s, "--rl", "rl", "--rl", "b", *FAST),
], ids=["compare", "compare-self", "two-sources", "compare_store", "report", "study", "cli", "cli-study"])
def test_each_store_is_opened_once(store, opens, call):
    found = call(store)
    assert getattr(found, "returncode", 0) == 0, found.stderr
    assert len(opens) == 1, opens
