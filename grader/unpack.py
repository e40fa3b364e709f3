"""Step 1-2: unpack an archive with the hardened C tool (`em-archive unpack`) and pick the lab and
its allow-listed student files. The grader never extracts an archive itself."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat

from . import sandboxing
from .errors import BadArchive, GradingError
from .labs import Lab
from .text import clean, last_lines


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpack(em_archive: str, archive: str, dest: str, workdir: str) -> None:
    """em-archive unpack ARCHIVE DEST, in the sandbox (writable: the submission's work dir).
    Exit 1: BadArchive with the tool's own reason; anything else not 0: GradingError."""
    lim = sandboxing.Limits(wall_s=60, cpu_s=60, memory_bytes=1 << 30, processes=16,
                            file_bytes=128 << 20, open_files=64)
    # A copy inside the work dir: the sandbox's private /tmp may hide the original's folder.
    local = os.path.join(workdir, "submission.archive")
    shutil.copyfile(archive, local, follow_symlinks=True)
    r = sandboxing.run([em_archive, "unpack", local, dest], workdir=workdir,
                       limits=lim, ro_binds=[os.path.dirname(os.path.abspath(em_archive))])
    os.unlink(local)
    if r.outcome == "exited" and r.returncode == 0:
        return
    err = clean(r.stderr, 1 << 16)
    if r.outcome == "exited" and r.returncode == 1:
        lines = [l for l in err.splitlines() if l.strip()]
        reason = lines[-1] if lines else "refused (no reason given)"
        reason = reason.removeprefix("em-archive: ").removeprefix("refused: ")
        raise BadArchive(clean(reason, 300))
    if r.outcome == "timeout":
        raise BadArchive("unpacking took longer than 60 s")
    if r.outcome == "limit":
        raise BadArchive(f"unpacking exceeded the {r.limit} limit")
    raise GradingError("em-archive failed (%s %s): %s" % (
        r.outcome, r.returncode if r.outcome == "exited" else r.signal, last_lines(r.stderr, 2)))


def _regular_files(root: str) -> list[str]:
    """Relative paths of the regular files under root (links are not followed; em-archive refuses
    them anyway)."""
    out = []
    for d, dirs, files in os.walk(root, followlinks=False):
        for f in files:
            p = os.path.join(d, f)
            if stat.S_ISREG(os.lstat(p).st_mode):
                out.append(os.path.relpath(p, root))
    return sorted(out)


def _read_manifest(root: str, notes: list) -> dict | None:
    p = os.path.join(root, "manifest.json")
    if not os.path.isfile(p) or os.path.islink(p):
        return None
    try:
        if os.path.getsize(p) > 1 << 20:
            raise ValueError("larger than 1 MiB")
        with open(p, "rb") as f:
            m = json.loads(f.read().decode("utf-8"))
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        return m
    except (ValueError, UnicodeDecodeError) as e:
        notes.append(f"manifest.json unreadable ({clean(str(e), 80)}), ignored")
        return None


def select(root: str, labs: dict[int, Lab], lab_override: int | None, pristine_repo: str) -> tuple:
    """Returns (lab, {file name: absolute path or None for 'take the skeleton'}, manifest, notes)
    or raises BadArchive(why)."""
    notes: list[str] = []
    files = _regular_files(root)
    manifest = _read_manifest(root, notes)

    def candidates(lab: Lab, name: str) -> list[str]:
        want = {f"labs/{lab.folder}/{name}", f"{lab.folder}/{name}", name}
        return [f for f in files if f in want]

    if lab_override is not None:
        if lab_override not in labs:
            raise GradingError(f"--lab {lab_override}: no such lab in the pristine tree")
        lab = labs[lab_override]
    elif manifest is not None and isinstance(manifest.get("lab"), int) and manifest["lab"] in labs:
        lab = labs[manifest["lab"]]
    else:
        if manifest is not None and "lab" in manifest:
            notes.append(f"manifest names lab {clean(str(manifest.get('lab')), 20)}, which does not exist")
        matching = [l for l in labs.values() if any(candidates(l, n) for n in l.files)]
        if len(matching) != 1:
            raise BadArchive("cannot tell the lab: " + (
                "no file has a lab's student-file name" if not matching else
                "files of labs %s" % ", ".join(str(l.number) for l in matching)) +
                " (give --lab N, or include manifest.json)")
        lab = matching[0]

    chosen: dict[str, str | None] = {}
    used = set()
    for name in lab.files:
        c = candidates(lab, name)
        if len(c) > 1:
            raise BadArchive(f"two candidates for {name}: {c[0]} and {c[1]}")
        if c:
            chosen[name] = os.path.join(root, c[0])
            used.add(c[0])
        else:
            chosen[name] = None
    if not used:
        raise BadArchive(f"no student file of lab {lab.number} ({', '.join(lab.files)}) in the archive")
    missing = [n for n, p in chosen.items() if p is None]
    if missing:
        notes.append("not in the archive, the skeleton used: " + ", ".join(missing))
    ignored = [f for f in files if f not in used and f not in ("manifest.json", "results.json")]
    if ignored:
        notes.append("ignored: " + clean(", ".join(ignored[:8]) + (f" and {len(ignored) - 8} more" if len(ignored) > 8 else ""), 200))

    if manifest is not None and isinstance(manifest.get("files"), list):
        listed = {e.get("path"): e.get("sha256") for e in manifest["files"] if isinstance(e, dict)}
        for rel in used:
            want = listed.get(rel) or listed.get(f"labs/{lab.folder}/{os.path.basename(rel)}")
            if want and want != sha256_file(os.path.join(root, rel)):
                notes.append(f"{os.path.basename(rel)} differs from manifest.json's hash (edited after packing?)")
    return lab, chosen, manifest, notes


def place(lab: Lab, chosen: dict, pristine_repo: str, labs_dir: str) -> str:
    """Copies the chosen files (bytes only, no modes) into a fresh labs_dir/labN-name/; missing
    ones come from the pristine skeleton. Returns the folder."""
    dest = os.path.join(labs_dir, lab.folder)
    os.makedirs(dest, mode=0o700)
    for name, src in chosen.items():
        src = src or os.path.join(pristine_repo, "labs", lab.folder, name)
        shutil.copyfile(src, os.path.join(dest, name), follow_symlinks=False)
    return dest


def claimed_score(root: str, manifest: dict | None) -> str:
    """What the student's own check claimed, for the gradebook only (never used to score): "25/25",
    and where the manifest says per track what was checked (make submit's "tracks"), which tracks
    that covers: "26/26 (cpu only; cuda not run, 1 TODO left)"."""
    cs = (manifest or {}).get("claimed_score")
    if isinstance(cs, dict) and isinstance(cs.get("points"), (int, float)) and isinstance(cs.get("max"), (int, float)):
        text = f"{cs['points']:g}/{cs['max']:g}"
        scope = _claim_scope(manifest.get("tracks"))
        return f"{text} ({scope})" if scope else text
    return ""


def _claim_scope(tracks) -> str:
    """The tracks a claimed score covers, from the manifest's "tracks" (the student's, so every
    value is checked and cut short); "" when it has none."""
    if not isinstance(tracks, dict):
        return ""
    checked, missing = [], []
    for name, t in list(tracks.items())[:4]:
        if not isinstance(t, dict):
            continue
        name = clean(str(name), 16)
        if t.get("status") == "checked":
            checked.append(name)
            continue
        todos = t.get("todo_count")
        left = f", {todos} TODO{'' if todos == 1 else 's'} left" if type(todos) is int and todos > 0 else ""
        missing.append(f"{name} {'not run' if t.get('status') == 'skipped' else 'not checked'}{left}")
    if not missing:
        return ", ".join(checked)
    return f"{', '.join(checked) + ' only' if checked else 'no track checked'}; {'; '.join(missing)}"
