"""The report built from the lab demo's store: files, self-containment, and a real browser's view of it."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

import tether
from tether.compare.store import FOLDER, load_store_comparison, stored_comparison
from tether.report import build_report, gather
from tether.store import open_store, query
from tether.store.schema import RewardHackCounts

from ..cli_run import tether as cli
from ..conftest import store_with_reward_hacks
from .test_study_report import run_store, study_page  # noqa: F401  (fixtures: a study's report, for the browser)


@pytest.fixture(scope="module")
def report(quick_demo, tmp_path_factory):
    store = quick_demo[0].folder / "store"
    return build_report(store, tmp_path_factory.mktemp("report")), store


def test_files_and_summary(report):
    files, _ = report
    for path in (files.html, files.markdown, files.summary, *files.figures):
        assert path.is_file() and path.stat().st_size > 0
    assert {p.name for p in files.figures} >= {"pass_at_k.png", "task_curves.png", "regions.png", "diagnostics.png"}
    summary = json.loads(files.summary.read_text())
    assert sum(summary["overall"]["counts"].values()) == len(summary["overall"]["tasks"])
    assert {d["metric"] for d in summary["diagnostics"]} >= {"avg_at_k", "answer_entropy", "token_entropy"}
    shifted = {t["task_id"]: t for t in summary["shifted_tasks"]}
    regions = {t["task_id"]: t["region"] for t in summary["overall"]["tasks"]}
    assert shifted and all(regions[task] == t["region"] and t["region"] in "SE" for task, t in shifted.items())


def test_markdown_links_its_figures(report):
    files, _ = report
    text = files.markdown.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((files.markdown.parent / link).is_file() for link in links)
    assert "| benchmark | tasks | P | S | E | O |" in text
    assert "Reward-hacking signals" not in text  # no code tasks, no signal: nothing to show


def test_html_is_self_contained(report):
    page = report[0].html.read_text()
    assert page.count("<svg") >= 4 and "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page


def test_shifted_tasks_carry_an_example_completion(report):
    _, store = report
    data = gather(store, stored_comparison(store))
    solved_by = {"S": data.overall.base, "E": data.overall.rl}
    for task in data.shifted:
        assert task.example is not None  # the model that solved it stored its text
        assert task.answer and task.extraction and task.gold  # its extracted answer, how it was found, and the gold
        row = list(solved_by[task.region].task_ids).index(task.task_id)
        assert solved_by[task.region].c[row] > 0
    from tether.report.build import _html_shifted

    table = _html_shifted(data)
    assert "gold answer" in table and all(f"({t.extraction})" in table for t in data.shifted[:5])


def test_three_shapes_are_real_curves(report):
    data = gather(report[1], stored_comparison(report[1]))
    shapes = [curve.shape for curve in data.curves]
    assert shapes and len(shapes) == len(set(shapes)) <= 3  # the lab pair shows at least one shape
    for curve in data.curves:
        gap = curve.rl - curve.base
        assert curve.k_grid.shape == curve.base.shape == curve.rl.shape and len(curve.k_grid) > 1
        if curve.shape == "preservation":
            assert curve.region == "P" and abs(gap[-1]) < 0.05
        if curve.shape == "shrinkage":
            assert gap[-1] < 0
        if curve.shape == "expansion":
            assert gap.min() >= 0 and gap[-1] > 0


def test_the_report_shows_the_saved_comparison_and_only_while_current(quick_demo, tmp_path, monkeypatch):
    """`tether run` saved its comparison in the store: the report reads it instead of comparing
    again, and compares again (and saves) once the verdicts it came from changed."""
    from tether.compare import store as saved

    store = tmp_path / "store"
    shutil.copytree(quick_demo[0].folder / "store", store)
    kept = load_store_comparison(store)
    assert kept is not None and kept.overall.options.k_grid  # the experiment's own settings
    monkeypatch.setattr(saved, "compare_counts", lambda *a, **k: pytest.fail("compared again"))
    build_report(store, tmp_path / "r1")
    summary = json.loads((tmp_path / "r1" / "summary.json").read_text())
    assert summary["overall"]["counts"] == kept.overall.counts.as_dict()
    monkeypatch.undo()
    from tether.grading import GradeOptions

    tether.grade(store, GradeOptions(verifier="exact", workers=1), labels=["rl"])  # new RL verdicts
    assert load_store_comparison(store) is None
    build_report(store, tmp_path / "r2")
    assert load_store_comparison(store) is not None and (store / FOLDER / "tasks.csv").is_file()


def test_cli_report(quick_demo, tmp_path):
    out = cli("report", str(quick_demo[0].folder / "store"), "--out", str(tmp_path / "r"), "--json",
              "--base-label", "base")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r" / "report.html").is_file()
    payload = json.loads(out.stdout)  # the files written and the conclusion, one object
    assert payload["html"] == str(tmp_path / "r" / "report.html") and len(payload["figures"]) >= 2
    assert payload["conclusion"] == json.loads((tmp_path / "r" / "summary.json").read_text())["conclusion"]
    assert out.stderr.strip() == ("warning: --base-label is deprecated and goes in the next release; use --base")
    bad = cli("report", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and "not a tether store" in bad.stderr and "Traceback" not in bad.stderr


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (`make test` installs it as root)")
def test_report_renders_in_a_real_browser(report, study_page, tmp_path):  # noqa: F811
    """The pair's report, then a study's (Table 1, two pairs, a run per benchmark with its two figures), in one
    browser: no console error, nothing fetched, every figure drawn, every table there."""
    sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra").sync_playwright
    files, _ = report
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
    errors, requests = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=_chromium(), args=flags)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(files.html.as_uri(), wait_until="load")
        figures = page.locator("figure.figure").all()
        boxes = [f.locator("svg").bounding_box() for f in figures]
        drawn = [f.locator("svg path").count() for f in figures]
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        page.goto(study_page.html.as_uri(), wait_until="load")
        study_boxes = [f.locator("svg").bounding_box() for f in page.locator("figure.figure").all()]
        headings = page.locator("h2").all_inner_texts()
        table_rows = [t.locator("tbody tr").count() for t in page.locator("table").all()]
        browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests  # nothing fetched from a network
    assert len(figures) >= 4
    assert all(box and box["width"] > 100 and box["height"] > 50 for box in boxes), boxes
    assert all(n > 5 for n in drawn), drawn
    assert shot.stat().st_size > 50_000
    assert headings == ["Models by benchmark and domain", "Two children side by side: sft and grpo-20 (base base)",
                        "Two children side by side: grpo-10 and sft (base base)",
                        "Training run grpo: 2 checkpoints against base"]
    assert table_rows == [3 * 5, 3, 3, 5 * 2]  # 3 models x 5 scopes; each child and a - b; 5 scopes x 2 steps
    assert len(study_boxes) == 2 and all(box and box["width"] > 100 and box["height"] > 50 for box in study_boxes)


def test_figures_keep_legends_off_the_curves_and_label_every_region():
    """pass@k: one legend above the panels (not one inside each, over a curve), long titles wrapped, not
    clipped; regions: every count written right of its bar, however thin the segment."""
    from tether.report.figures import pass_at_k_figure, regions_figure

    toy = Path(__file__).parents[2] / "examples" / "toy"
    result = tether.compare(str(toy / "base.jsonl.gz"), str(toy / "rl.jsonl.gz"))
    name = "a-benchmark-with-a-rather-long-name-that-was-clipped (level 3)"
    figure = pass_at_k_figure({name: result, "short": result}, ("base", "rl"))
    assert figure.svg.count(">base<") == 1 and figure.svg.count(">rl<") == 1
    title = "".join(re.findall(r"<text[^>]*>([^<]*)</text>", figure.svg))
    assert "a-benchmark-with-a-rather-long-name-that-wa" in title and "s-clipped (level 3) (120 tasks)" in title
    regions = regions_figure({name: result})
    c = result.counts
    assert f"P {c.P}  S {c.S}  E {c.E}  O {c.O}" in regions.svg


def test_reward_hacking_signals_beside_pass_at_k(tmp_path):
    store = store_with_reward_hacks(tmp_path)
    files = build_report(store, tmp_path / "report")
    markdown = files.markdown.read_text()
    assert "### Reward-hacking signals" in markdown
    assert "| model | graded samples | exited before the tests finished | forged result |" in markdown
    assert "| rl | 8 | 2 (25.0%) | 1 (12.5%) |" in markdown and "| base | 8 | 0 (0.0%) | 0 (0.0%) |" in markdown
    page = files.html.read_text()
    assert "<h3>Reward-hacking signals</h3>" in page and "<td>2 (25.0%)</td>" in page
    summary = json.loads(files.summary.read_text())
    assert summary["overall"]["reward_hacks"]["rl"] == {"samples": 8, "exited_early": 2, "forged": 1}
    data = gather(store, stored_comparison(store))
    assert query.task_verifiers(open_store(store), "rl") == {"math"}  # the tasks' own verifier (graded as exact)
    assert data.shows_reward_hacks and not data.code_tasks  # shown: some verdict signals a hack
    quiet = {"base": RewardHackCounts(8), "rl": RewardHackCounts(8)}
    assert not dataclasses.replace(data, reward_hacks=quiet).shows_reward_hacks  # no code task, no signal
    assert dataclasses.replace(data, reward_hacks=quiet, code_tasks=True).shows_reward_hacks  # zeros are news on code
