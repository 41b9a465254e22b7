"""The judge's reply parsing (a table), its template file, and --judge-check against a local server."""

import subprocess
import sys

import pytest

from tether.errors import InputError
from tether.grading.judge import DEFAULT_TEMPLATE, JudgeVerifier, load_template, parse_reply

from .test_failures import FlakyJudge

REPLIES = [
    # (the judge's reply, the verdict status, correct)
    ("GRADE: A", "ok", True),
    ("GRADE: B", "ok", False),
    ("GRADE: C", "no_answer", False),
    ("The prediction names Paris, the gold target.\nGRADE: A", "ok", True),
    ("I'd give it a B at first, but it matches.\nGRADE: A", "ok", True),
    ("I'd give it a B", "error", False),  # the article "a" and a letter in prose are no grade
    ("**GRADE: C**", "no_answer", False),
    ("Grade: B", "ok", False),
    ("grade = A", "ok", True),
    ("CORRECT", "ok", True),
    ("INCORRECT", "ok", False),
    ("NOT_ATTEMPTED", "no_answer", False),
    ("A", "ok", True),
    ("B.", "ok", False),
    ("GRADE: CORRECT", "ok", True),
    ("GRADE: A\n\nThat is all.", "ok", True),  # the last GRADE line counts, wherever it is
    ("GRADE: A\nOn reflection the years differ.\nGRADE: B", "ok", False),
    ("GRADE: D", "error", False),
    ("", "error", False),
    ("Answer A looks right", "error", False),
]


@pytest.mark.parametrize("reply,status,correct", REPLIES, ids=[r[0][:30] or "empty" for r in REPLIES])
def test_replies(reply, status, correct):
    grade = parse_reply(reply)
    assert (grade.status, grade.correct) == (status, correct)


def test_template_files(tmp_path):
    assert "{question}" in DEFAULT_TEMPLATE and "GRADE: A" in DEFAULT_TEMPLATE
    assert "SimpleQA" in DEFAULT_TEMPLATE and "tether's words" in DEFAULT_TEMPLATE  # ours, not the published text
    own = tmp_path / "mine.txt"
    own.write_text("Q: {question}\nGold: {target}\nSaid: {answer}\nGRADE?")
    assert load_template(str(own)).startswith("Q: ")
    (tmp_path / "bad.txt").write_text("no slots")
    with pytest.raises(InputError, match="lacks the slots"):
        load_template(str(tmp_path / "bad.txt"))
    with pytest.raises(InputError, match="no such file"):
        load_template(str(tmp_path / "missing.txt"))
    a = JudgeVerifier("m", "http://a/v1").version()
    assert a != JudgeVerifier("m", "http://b/v1").version()  # the server is part of the cache key
    assert a != JudgeVerifier("m", "http://a/v1", template=str(own)).version()


def test_judge_check_prints_the_agreement():
    server = FlakyJudge(failures=0)  # grades A when the answer contains the gold target, else B
    try:
        out = subprocess.run([sys.executable, "-m", "tether", "grade", "--verifier", "judge",
                              "--judge-model", "m", "--judge-base-url", server.base_url, "--judge-check"],
                             capture_output=True, text=True)
    finally:
        server.close()
    assert out.returncode == 0, out.stderr
    assert "judge agreement on the calibration set:" in out.stdout and "/24 (" in out.stdout
    assert "expected C, judged B" in out.stdout  # a substring rule cannot tell "not attempted"
