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


def test_impossible_speed_earns_no_performance_points():
    names = {k[2] for k in TABLE}
    claimed = results(names)
    for c in claimed["cases"]:
        if c["name"] == "speed":
            c.update(impossible_speed=True, speed_note="read 900 GB/s of a 4 GiB working set (SECRET)")
    r = S.score(TABLE, results(names), claimed, cfg(), 1)
    assert r["correctness"] == r["correctness_max"] and r["performance"] == 0
    perf = [t for t in r["tests"] if t["name"].endswith("performance")]
    assert perf and perf[0]["output"] == "speed beyond this machine's measured peaks (no performance points)"
    # The row says so in the grader's words; a hidden case is not named there.
    assert r["notes"] == ["a hidden case of part b [cpu]: speed beyond this machine's measured peaks (no performance points)"]
    assert "SECRET" not in repr(r)


def test_a_speed_case_records_its_speedup_as_a_number():
    """The words round it ("0.40x the reference's time"); `report` charts the number."""
    names = {k[2] for k in TABLE}
    perf = lambda r: [t for t in r["tests"] if t["name"].endswith("performance")]
    r = S.score(TABLE, results(names), results(names, 2.5), cfg(), 1)
    assert [t["extra_data"] for t in perf(r)] == [{"speedup_vs_ref": 2.5}]
    # None where there is no speed that counts: a failed case, no timing, a time beyond the peaks.
    assert "extra_data" not in perf(S.score(TABLE, results(names - {"speed"}), results(names, 2.5), cfg(), 1))[0]
    assert "extra_data" not in perf(S.score(TABLE, results(names), results(names, 0), cfg(), 1))[0]
    claimed = results(names, 2.5)
    claimed["cases"][-1]["impossible_speed"] = True
    assert "extra_data" not in perf(S.score(TABLE, results(names), claimed, cfg(), 1))[0]


def test_impossible_speed_on_a_visible_case_names_it():
    table = {("cpu", "a", "big", False): (1.0, 1.0)}
    own = {"cases": [{"track": "cpu", "part": "a", "name": "big", "hidden": False, "status": "pass",
                      "speedup_vs_ref": 1.0, "impossible_speed": True}]}
    r = S.score(table, own, own, cfg(), 1)
    assert r["performance"] == 0 and r["notes"] == [
        "case big [cpu]: speed beyond this machine's measured peaks (no performance points)"]


def test_possible_speed_keeps_the_rule():
    names = {k[2] for k in TABLE}
    claimed = results(names)
    for c in claimed["cases"]:
        c.update(impossible_speed=False, speed_note="", timed_calls=12, timed_s=0.3)
    r = S.score(TABLE, results(names), claimed, cfg(), 1)
    assert r["score"] == 100 and r["notes"] == []


def test_reused_work_is_said_in_the_graders_words():
    names = {k[2] for k in TABLE}
    claimed = results(names, status={"speed": "fail"})
    for c in claimed["cases"]:
        if c["name"] == "speed":
            c["reason"] = "reused work while timing: call 3 returned in 2 ns on inputs of shape 4096x4096 (SECRET)"
    r = S.score(TABLE, results(names), claimed, cfg(), 1)
    assert r["correctness"] == pytest.approx(50 - 12.5) and r["performance"] == 0
    words = "reused work while timing (a result kept from an earlier call)"
    case, perf = [t for t in r["tests"] if " speed " in t["name"]]
    assert case["status"] == "failed" and case["output"] == "incorrect: the checked run failed it: " + words
    assert perf["output"] == "no points: the checked run failed it: " + words
    assert "SECRET" not in repr(r) and "4096" not in repr(r)


def test_the_checkers_kind_decides_the_words_not_its_reason():
    """A results file that says "kind" is read by its kind alone: a reason that reads like another
    verdict (the student's process wrote it) changes nothing."""
    names = {k[2] for k in TABLE}
    claimed = results(names, status={"speed": "fail"})
    for c in claimed["cases"]:
        if c["name"] == "speed":
            c["kind"] = "stale"
            c["reason"] = "reused work while timing: never written, past the end (SECRET)"
    r = S.score(TABLE, results(names), claimed, cfg(), 1)
    case = [t for t in r["tests"] if " speed " in t["name"]][0]
    assert case["output"] == "incorrect: the checked run failed it: stale output after the checker changed the inputs: " \
                             "results cached between calls?"
    assert "SECRET" not in repr(r)
