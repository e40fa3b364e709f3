"""grader/score.py on a synthetic case table: weights, the performance threshold, the share, and
that the run's own verdict can only take points away."""
import pytest

from grader import score as S

# (track, part, name, hidden) -> (points, perf_points): lab 1 on the CPU in miniature.
TABLE = {("cpu", "a", "a1", False): (1.0, 0.0), ("cpu", "a", "a2", False): (1.0, 0.0),
         ("cpu", "b", "b1", False): (1.0, 0.0), ("cpu", "b", "speed", True): (1.0, 4.0)}


def results(passed, speedup=1.0, status=None):
    cases = []
    for (track, part, name, hidden) in TABLE:
        st = "pass" if name in passed else "fail"
        cases.append({"track": track, "part": part, "name": name, "hidden": hidden,
                      "status": (status or {}).get(name, st), "reason": "", "speedup_vs_ref": speedup})
    return {"cases": cases}


def cfg(**kw):
    c = S.load_config(None)
    c.update(kw)
    return c


def test_all_pass_full_marks_default_share():
    r = S.score(TABLE, results(TABLE_NAMES := {k[2] for k in TABLE}), results(TABLE_NAMES), cfg(), 1)
    assert r["score"] == 100 and r["performance_max"] == pytest.approx(100 * 4 / 8)
    assert r["correctness"] == r["correctness_max"] == pytest.approx(50)


def test_parts_weighted_by_their_points_by_default():
    r = S.score(TABLE, results({"a1", "a2"}), results({"a1", "a2"}), cfg(), 1)
    # part a holds 2 of the 4 correctness points
    assert r["correctness"] == pytest.approx(25) and r["performance"] == 0


def test_part_weights_and_share_from_config():
    c = cfg(performance_share=0.2, labs={"1": {"parts": {"a": 3, "b": 1}, "max_score": 10}})
    r = S.score(TABLE, results({"a1", "a2"}), results({"a1", "a2"}), c, 1)
    assert r["max_score"] == 10 and r["correctness_max"] == pytest.approx(8)
    assert r["correctness"] == pytest.approx(8 * 3 / 4)


@pytest.mark.parametrize("speedup,frac", [(1 / 1.0, 1.0), (1 / 1.2, 1.0), (1 / 2.4, 0.5), (1 / 4.8, 0.25), (0, 0.0)])
def test_performance_full_to_threshold_then_proportional(speedup, frac):
    names = {k[2] for k in TABLE}
    r = S.score(TABLE, results(names), results(names, speedup), cfg(), 1)
    assert r["performance"] == pytest.approx(50 * frac, abs=1e-3)


def test_threshold_configurable():
    names = {k[2] for k in TABLE}
    r = S.score(TABLE, results(names), results(names, 1 / 1.5), cfg(threshold=1.5), 1)
    assert r["performance"] == pytest.approx(50)


def test_the_runs_verdict_only_takes_away():
    names = {k[2] for k in TABLE}
    # verified pass, but the run itself failed b1 (e.g. it changed its input): no points for b1
    r = S.score(TABLE, results(names), results(names, status={"b1": "fail"}), cfg(), 1)
    assert r["correctness"] == pytest.approx(50 - 12.5)  # b1: half of part b's 25
    # the run claims everything passed, the verification passed nothing: nothing
    r = S.score(TABLE, results(set()), results(names, speedup=100), cfg(), 1)
    assert r["score"] == 0


def test_no_claimed_results_means_no_points():
    names = {k[2] for k in TABLE}
    assert S.score(TABLE, results(names), None, cfg(), 1)["score"] == 0


@pytest.mark.parametrize("text", ['{"threshold": -1}', '{"bogus": 1}', '{"performance_share": 2}', '[1]',
                                  '{"labs": {"1": {"parts": {"a": "x"}}}}'])
def test_bad_config(tmp_path, text):
    p = tmp_path / "c.json"
    p.write_text(text)
    with pytest.raises(S.ConfigError):
        S.load_config(str(p))
