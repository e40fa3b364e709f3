"""grader/includes.py on its own: dependency lists, the files a build may read, and the compiler's
words as a student sees them (the batch test grades real submissions through all of it)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader import includes
from grader.build import COMPILER_MARK
from grader.gradebook import public_reason


@pytest.fixture
def tree(tmp_path: Path):
    """A work folder (the student's lab folder) and a public view with its include/."""
    student = tmp_path / "work" / "labs" / "lab1-add"
    student.mkdir(parents=True)
    public = tmp_path / "pristine" / "public-0"
    (public / "include" / "em").mkdir(parents=True)
    (public / "include" / "em" / "add.h").write_text("void lab1_add_a(const float *x, float c, float *z, long n);\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "solution.c").write_text("int solution_line_one = 1;\nthe solution's second line\n")
    allowed = includes.Allowed(str(student.resolve()), str(public.resolve()), includes.system_include_dirs())
    paths = includes.Paths({str(student.parent): "", str(tmp_path / "work"): "", str(public): "",
                            str(tmp_path / "pristine"): "<prebuilt>", str(tmp_path): "<grader>"})
    return tmp_path, student, public, allowed, paths


def test_dependency_lists_of_gcc_and_nvcc():
    gcc = "build/add.o: /w/labs/lab1-add/add.c /usr/include/stdc-predef.h \\\n include/em/add.h /x/a\\ b.h /y/$$c.h\n"
    assert includes.parse_deps(gcc) == ["/w/labs/lab1-add/add.c", "/usr/include/stdc-predef.h",
                                        "include/em/add.h", "/x/a b.h", "/y/$c.h"]
    nvcc = "add.cu.o : add.cu \\\n    /usr/include/stdc-predef.h \\\n    /usr/local/cuda/bin/../targets/x/include/cuda_runtime.h\n"
    assert includes.parse_deps(nvcc)[1:] == ["/usr/include/stdc-predef.h",
                                             "/usr/local/cuda/bin/../targets/x/include/cuda_runtime.h"]


def write_deps(objdir: Path, obj: str, deps: list[str]) -> None:
    objdir.mkdir(parents=True, exist_ok=True)
    (objdir / obj).write_bytes(b"\x7fELF")
    (objdir / (obj[:-2] + ".d")).write_text(f"{objdir / obj}: " + " \\\n ".join(deps) + "\n")


def test_own_public_and_system_headers_are_fine(tree):
    tmp, student, public, allowed, paths = tree
    src = student / "add.c"
    src.write_text('#include <stdio.h>\n#include "em/add.h"\n#include "helper.h"\n')
    (student / "helper.h").write_text("\n")
    objdir = tmp / "work" / "build" / "lab1" / "student"
    write_deps(objdir, "add.o", [str(src), "/usr/include/stdio.h", "include/em/add.h", str(student / "helper.h")])
    assert includes.foreign(str(objdir), allowed, {"add.o": str(src), "add.cu.o": str(student / "add.cu")}, paths) is None


def test_any_other_file_is_named_as_written(tree):
    tmp, student, public, allowed, paths = tree
    src = student / "add.c"
    rel = os.path.relpath(tmp / "secret" / "solution.c", student)
    src.write_text(f'#include "em/add.h"\n#include "{rel}"\n')
    objdir = tmp / "work" / "build" / "lab1" / "student"
    write_deps(objdir, "add.o", [str(src), "include/em/add.h", str(student / rel)])
    why = includes.foreign(str(objdir), allowed, {"add.o": str(src)}, paths)
    assert why and why.startswith(f'add.c includes "{rel}": a submission may include only its own files'), why
    # A file it reached through a header of its own, which it did not spell: named from our folders.
    src.write_text('#include "em/add.h"\n')
    why = includes.foreign(str(objdir), allowed, {"add.o": str(src)}, paths)
    assert why and "add.c includes <grader>/secret/solution.c" in why and str(tmp) not in why, why


def test_a_missing_file_named_by_a_failed_compile_counts_where_it_exists(tree):
    # After a fatal error gcc -M -MG names missing headers as written: one that is missing
    # everywhere (a typo) is nothing; one that exists on this machine outside the sandbox's view is
    # what the code aimed at.
    tmp, student, public, allowed, paths = tree
    src = student / "add.c"
    src.write_text('#include "em/ad.h"\n')
    objdir = tmp / "work" / "build" / "lab1" / "student"
    write_deps(objdir, "add.o", [str(src), "em/ad.h"])
    (objdir / "add.o").unlink()
    assert includes.foreign(str(objdir), allowed, {"add.o": str(src)}, paths) is None
    write_deps(objdir, "add.o", [str(src), str(tmp / "secret" / "solution.c")])
    assert "solution.c" in includes.foreign(str(objdir), allowed, {"add.o": str(src)}, paths)


def test_an_object_without_its_list_is_the_graders_error(tree):
    tmp, student, public, allowed, paths = tree
    objdir = tmp / "work" / "build" / "lab1" / "student"
    objdir.mkdir(parents=True)
    (objdir / "add.o").write_bytes(b"\x7fELF")
    with pytest.raises(RuntimeError, match="-MD -MF"):
        includes.foreign(str(objdir), allowed, {"add.o": str(student / "add.c")}, paths)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_the_student_sees_no_line_of_another_file(tree):
    tmp, student, public, allowed, paths = tree
    src = student / "add.c"
    secret = tmp / "secret" / "solution.c"
    src.write_text(f'#include "em/add.h"\n#include "{secret}"\nint f(void) {{ return 1 }}\n')
    r = subprocess.run(["gcc", "-fsyntax-only", "-Iinclude", str(src)], cwd=public, capture_output=True, text=True)
    assert "the solution's second line" in r.stderr  # what the compiler quotes
    shown = includes.for_student(r.stderr, allowed, paths)
    assert "solution's second line" not in shown and "solution_line_one" not in shown, shown
    assert f"<grader>/secret/solution.c:2: {includes.WITHHELD}" in shown, shown
    # The student's own error stays, with its line, and no path of the grader's.
    assert "lab1-add/add.c:3:" in shown and "return 1 }" in shown and str(tmp) not in shown, shown


def test_nvcc_diagnostics_too(tree):
    tmp, student, public, allowed, paths = tree
    secret = tmp / "secret" / "solution.c"
    out = (f'{secret}(2): error: this declaration has no storage class or type specifier\n'
           "  the solution's second line\n  ^\n\n"
           f'{student}/add.cu(3): error: expected a ";"\n  int f(void) {{ return 1 }}\n  ^\n\n'
           f'2 errors detected in the compilation of "{student}/add.cu".\n')
    shown = includes.for_student(out, allowed, paths)
    assert "second line" not in shown and "declaration has no storage" not in shown
    assert 'lab1-add/add.cu(3): error: expected a ";"' in shown and "  int f(void)" in shown


def test_an_honest_error_is_shown_as_it_was(tree):
    tmp, student, public, allowed, paths = tree
    out = (f"{student}/add.c:6:65: error: unknown type name 'this'\n"
           "    6 | void lab1_add_a(const float *x) { this is not C }\n      |      ^~~~\n"
           f"In file included from {student}/add.c:2:\n"
           f"include/em/add.h:1:6: note: previous declaration of 'lab1_add_a'\n    1 | void lab1_add_a(...);\n")
    assert includes.for_student(out, allowed, paths) == out.replace(f"{student.parent}/", "").rstrip("\n")


def test_the_compilers_whole_words_are_the_instructors():
    reason = "lab1-add/add.c:3: error: x | /etc/passwd:1: (withheld)" + COMPILER_MARK + "/etc/passwd:1:5: root:x:0:0"
    assert public_reason(reason) == "lab1-add/add.c:3: error: x | /etc/passwd:1: (withheld)"
    assert public_reason("crashed | its last words: secret" + COMPILER_MARK + "y") == "crashed"
