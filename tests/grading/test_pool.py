"""The grading pool: results for every job, deadlines enforced, hung and dead workers replaced."""

from tether.grading.pool import GradingPool, Job


def test_grades_every_job_and_replaces_a_hung_worker():
    jobs = [
        Job("hung", "math", {}, "9^{9^{9}}", {"answer": "1"}),  # a C-level power that ignores the alarm
        Job("fast", "math", {}, "42", {"answer": "42"}),
        Job("sympy", "math", {}, r"\frac{2}{4}", {"answer": "0.5"}),
        Job("after", "math", {}, "3", {"answer": "4"}),
    ]
    with GradingPool(workers=2, deadline=3) as pool:
        results = dict(pool.grade(jobs))
        assert pool.replaced == 1
    assert results["hung"].status == "timeout" and "killed after 3 s" in results["hung"].detail
    assert results["fast"].correct and results["sympy"].correct
    assert results["after"].status == "ok" and not results["after"].correct


def test_a_job_that_raises_is_its_own_error():
    with GradingPool(workers=1, deadline=10) as pool:
        results = dict(pool.grade([Job("bad", "math", {}, "1", {}), Job("good", "exact", {}, "a", {"answer": "A"})]))
    assert results["bad"].status == "error" and "no 'answer'" in results["bad"].detail
    assert results["good"].correct


def test_no_jobs():
    with GradingPool(workers=1) as pool:
        assert list(pool.grade([])) == []
