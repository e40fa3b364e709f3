#!/usr/bin/env python3
"""TEST-ONLY stand-in for build/em-archive (issue4-archive), used by the grader's tests only while
the C tool is not merged; deleted when it is. The grader never extracts archives itself: it runs
whatever em-archive it is given, and this implements the contract's `unpack` interface strictly
(regular files and directories only, no '..', no absolute paths, no backslashes, caps) so that
the grader's handling of exit 0 / exit 1 + 'em-archive: refused: <reason>' can be tested."""
import os
import sys
import tarfile
import zipfile

MAX_ENTRIES, MAX_BYTES, MAX_FILE = 1000, 64 << 20, 16 << 20


def refuse(why, dest=None):
    if dest and os.path.isdir(dest):
        import shutil
        shutil.rmtree(dest)
    print(f"em-archive: refused: {why}", file=sys.stderr)
    sys.exit(1)


def members(path):
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        for i in z.infolist():
            mode = (i.external_attr >> 16) & 0o170000
            kind = "dir" if i.is_dir() else ("file" if mode in (0, 0o100000) else "other")
            yield i.filename, kind, i.file_size, (lambda i=i: z.read(i))
        return
    try:
        t = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as e:
        refuse(f"not a tar or zip archive ({e})")
    try:
        for m in t:
            kind = "dir" if m.isdir() else "file" if m.isreg() else "other"
            yield m.name, kind, m.size, (lambda m=m: t.extractfile(m).read())
    except (tarfile.TarError, OSError, EOFError) as e:
        refuse(f"truncated or corrupt archive ({e})")


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "unpack":
        print("usage: em-archive unpack ARCHIVE DEST", file=sys.stderr)
        return 2
    src, dest = sys.argv[2], sys.argv[3]
    if os.path.exists(dest):
        print(f"em-archive: {dest} exists", file=sys.stderr)
        return 2
    os.makedirs(dest, 0o700)
    n = total = 0
    try:
        for name, kind, size, read in members(src):
            n += 1
            if n > MAX_ENTRIES:
                refuse("too many entries", dest)
            if kind == "other":
                refuse(f"{name}: not a regular file or directory", dest)
            if name.startswith("/") or "\\" in name or ".." in name.split("/"):
                refuse(f"{name}: path leaves the destination", dest)
            p = os.path.join(dest, name)
            if kind == "dir":
                os.makedirs(p, exist_ok=True)
                continue
            if size > MAX_FILE:
                refuse(f"{name}: larger than the per-file cap", dest)
            data = read()
            total += len(data)
            if total > MAX_BYTES:
                refuse("more bytes than the total cap", dest)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if os.path.exists(p):
                refuse(f"{name}: appears twice", dest)
            with open(p, "xb") as f:
                f.write(data)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        refuse(f"truncated or corrupt archive ({e})", dest)
    if n == 0:
        refuse("empty archive", dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
