"""The labs of the pristine tree and their student files (by rule: the .c, .cu, .h and .cuh
files of labs/labN-*/; nothing else is ever built)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

STUDENT_EXTS = (".c", ".cu", ".h", ".cuh")


@dataclass(frozen=True)
class Lab:
    number: int
    folder: str          # "lab1-add"
    files: tuple         # ("add.c", "add.cu")


def discover(repo: str) -> dict[int, Lab]:
    labs = {}
    root = os.path.join(repo, "labs")
    for name in sorted(os.listdir(root)):
        m = re.fullmatch(r"lab(\d+)-[A-Za-z0-9_.-]+", name)
        path = os.path.join(root, name)
        if not m or not os.path.isdir(path):
            continue
        files = tuple(sorted(f for f in os.listdir(path)
                             if f.endswith(STUDENT_EXTS) and os.path.isfile(os.path.join(path, f))))
        labs[int(m.group(1))] = Lab(int(m.group(1)), name, files)
    return labs
