"""Step 6: points per DESIGN.md. Correctness per part from the verified verdicts; performance
against the reference time, full at <= threshold x the reference, proportional beyond, counted
only for verified cases; everything instructor-configurable with --config FILE:

  {"max_score": 100,            # a lab's score is out of this
   "threshold": 1.2,            # full performance points at <= 1.2x the reference's time
   "performance_share": null,   # fraction of max_score for performance; null: the checker's
                                #   own ratio (perf_points over all points of the lab's cases)
   "labs": {"1": {"max_score": 100, "threshold": 1.2, "performance_share": 0.2,
                  "parts": {"a": 1, "b": 1}}}}   # part weights; default: each part's
                                                 #   correctness points in the checker's cases
Per-lab keys override the top-level ones."""
from __future__ import annotations

import hashlib
import json
import math

DEFAULTS = {"max_score": 100.0, "threshold": 1.2, "performance_share": None, "labs": {}}


class ConfigError(Exception):
    pass


def load_config(path: str | None) -> dict:
    cfg = json.loads(json.dumps(DEFAULTS))
    if not path:
        return cfg
    try:
        with open(path, encoding="utf-8") as f:
            user = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the config {path}: {e}")
    if not isinstance(user, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    unknown = set(user) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(DEFAULTS)})")
    cfg.update(user)
    for where, d in [("top level", cfg), *((f"lab {k}", v) for k, v in (cfg.get("labs") or {}).items())]:
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: {where} must be an object")
        for k in ("max_score", "threshold"):
            if k in d and not (isinstance(d[k], (int, float)) and d[k] > 0):
                raise ConfigError(f"{path}: {where}: {k} must be a positive number")
        s = d.get("performance_share")
        if s is not None and not (isinstance(s, (int, float)) and 0 <= s <= 1):
            raise ConfigError(f"{path}: {where}: performance_share must be null or 0..1")
        parts = d.get("parts")
        if parts is not None and not (isinstance(parts, dict) and all(isinstance(w, (int, float)) and w >= 0 for w in parts.values())):
            raise ConfigError(f"{path}: {where}: parts must map part letters to weights >= 0")
    return cfg


def config_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def lab_config(cfg: dict, lab: int) -> dict:
    out = {k: cfg[k] for k in ("max_score", "threshold", "performance_share")}
    out["parts"] = None
    out.update((cfg.get("labs") or {}).get(str(lab), {}))
    return out


def perf_fraction(speedup_vs_ref, threshold: float) -> float:
    """1 at <= threshold x the reference's time, threshold/ratio beyond; the ratio is the
    interleaved one the checker measured (reference time / candidate time = speedup_vs_ref)."""
    if not isinstance(speedup_vs_ref, (int, float)) or not math.isfinite(speedup_vs_ref) or speedup_vs_ref <= 0:
        return 0.0
    slow = 1.0 / speedup_vs_ref
    return 1.0 if slow <= threshold else threshold / slow


# The checker's failure kinds (results.json "kind", harness/checker.h EM_FAIL_KINDS) in the
# grader's words.
_KIND_WORDS = {
    "reused": "reused work while timing (a result kept from an earlier call)",
    "input_changed": "the code changed an input (inputs are read-only)",
    "stale": "stale output after the checker changed the inputs: results cached between calls?",
    "past_end": "the code wrote past the end of an output",
    "unwritten": "some output elements were never written",
    "wrong": "wrong results",
    "missing": "a function of the lab is not defined",
    "error": "the code raised an error",
}

# Results written before the checker said "kind": the same verdicts, found by their words.
_OLD_WORDS = (("reused work while timing", "reused"), ("changed its input", "input_changed"),
              ("changed an input", "input_changed"), ("stale output", "stale"), ("past the end", "past_end"),
              ("never written", "unwritten"))


def _own_reason(c: dict) -> str:
    """The run's own verdict in the grader's words: its text comes from the student's process,
    which knows the hidden cases, so only its kind is read, never its text copied."""
    kind = c.get("kind")
    if not isinstance(kind, str):
        why = str(c.get("reason") or "")
        kind = next((k for needle, k in _OLD_WORDS if needle in why), "")
    return _KIND_WORDS.get(kind) or f"status {c.get('status')!s:.10}"


def _impossible(c: dict) -> bool:
    """The checker measured the case faster than this machine's measured peaks allow on a working
    set far beyond the caches: a time that cannot be real earns nothing (its speed_note, the
    student's process's text, is not copied)."""
    return c.get("impossible_speed") is True


def _speedup(cc: dict) -> float | None:
    """The passed case's measured speedup over the reference, None when it has none that counts
    (no timing, or one beyond this machine's peaks)."""
    sp = cc.get("speedup_vs_ref")
    if _impossible(cc) or not (isinstance(sp, (int, float)) and sp > 0 and math.isfinite(sp)):
        return None
    return float(sp)


def _perf(cc: dict, threshold: float) -> tuple[float, str]:
    """The performance fraction of a passed case and the words for it."""
    if _impossible(cc):
        return 0.0, "speed beyond this machine's measured peaks (no performance points)"
    sp = _speedup(cc)
    if sp is None:
        return 0.0, "no timing in the run's results"
    why = f"{1 / sp:.2f}x the reference's time (full at <= {threshold:g}x)"
    if isinstance(cc.get("time_ms"), (int, float)) and isinstance(cc.get("ref_time_ms"), (int, float)):
        why += f"; {cc['time_ms']:.3g} ms vs {cc['ref_time_ms']:.3g} ms"
    return perf_fraction(sp, threshold), why


def _key(c: dict) -> tuple:
    return (c.get("track"), c.get("part"), c.get("name"), bool(c.get("hidden")))


def score(table: dict, verified: dict, claimed: dict | None, cfg: dict, lab: int) -> dict:
    """table: (track, part, name, hidden) -> (points, perf_points) from the reference run;
    verified: the verifier's results; claimed: the student's own results (timing only).
    Returns correctness, performance, maxima, one test entry per case and notes for the row."""
    lc = lab_config(cfg, lab)
    vcases = {_key(c): c for c in (verified or {}).get("cases", []) if isinstance(c, dict)}
    ccases = {_key(c): c for c in (claimed or {}).get("cases", []) if isinstance(c, dict)}
    total_pts = sum(p for p, _ in table.values())
    total_perf = sum(q for _, q in table.values())
    share = lc["performance_share"]
    if share is None:
        share = total_perf / (total_pts + total_perf) if total_pts + total_perf > 0 else 0.0
    if total_perf == 0:
        share = 0.0
    max_score = float(lc["max_score"])
    parts = sorted({k[1] for k in table})
    part_pts = {p: sum(v[0] for k, v in table.items() if k[1] == p) for p in parts}
    weights = {p: float((lc["parts"] or {}).get(p, part_pts[p])) for p in parts}
    wsum = sum(weights[p] for p in parts if part_pts[p] > 0) or 1.0
    corr_max = max_score * (1 - share)
    perf_max = max_score * share
    tests, notes, corr, perf = [], [], 0.0, 0.0
    for key in sorted(table, key=lambda k: (k[0] or "", k[1] or "", k[3], k[2] or "")):
        pts, ppts = table[key]
        track, part, name, hidden = key
        v = vcases.get(key)
        own = ccases.get(key)
        # A case counts when the trusted verification passed it AND the run's own checker did not
        # fail it. The run's verdict can only take points away (forging it gains nothing); it
        # catches what the output files cannot show, e.g. code that changed its inputs.
        verified = v is not None and v.get("status") == "pass"
        passed = verified and own is not None and own.get("status") == "pass"
        c_w = corr_max * weights[part] / wsum * (pts / part_pts[part]) if part_pts[part] > 0 else 0.0
        got = c_w if passed else 0.0
        if passed:
            reason = ""
        elif not verified:
            reason = (v.get("reason") or v.get("status")) if v else "not checked (no verdict for this case)"
        else:
            reason = ("the checked run failed it: " + _own_reason(own)) if own else \
                "the checked run reported nothing for this case"
        entry = {"name": f"lab{lab} ({part}) {name} [{track}]" + (" hidden" if hidden else ""),
                 "score": round(got, 4), "max_score": round(c_w, 4),
                 "status": "passed" if passed else "failed",
                 "output": "correct (verified by the reference checker)" if passed else f"incorrect: {reason}",
                 "visibility": "after_published" if hidden else "visible"}
        corr += got
        tests.append(entry)
        if ppts > 0 and total_perf > 0:
            p_w = perf_max * ppts / total_perf
            frac, why = 0.0, "no points: the case did not pass verification"
            if passed:
                frac, why = _perf(own, float(lc["threshold"]))
                if _impossible(own):  # a hidden case is not named in the row (the gradebook names none)
                    notes.append((f"a hidden case of part {part}" if hidden else f"case {name}") + f" [{track}]: {why}")
            elif verified:
                why = "no points: " + reason
            perf += p_w * frac
            entry = {"name": f"lab{lab} ({part}) {name} [{track}] performance",
                     "score": round(p_w * frac, 4), "max_score": round(p_w, 4),
                     "status": "passed" if frac >= 1.0 else "failed", "output": why,
                     "visibility": "after_published" if hidden else "visible"}
            # The number itself, for `report`'s speedup charts: the words round it.
            if passed and (sp := _speedup(own)) is not None:
                entry["extra_data"] = {"speedup_vs_ref": round(sp, 4)}
            tests.append(entry)
    return {"score": round(corr + perf, 4), "max_score": round(max_score, 4),
            "correctness": round(corr, 4), "correctness_max": round(corr_max, 4),
            "performance": round(perf, 4), "performance_max": round(perf_max, 4), "tests": tests, "notes": notes}
