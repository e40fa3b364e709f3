"""emlab's batch grader: `python3 -m grader grade ...`, `python3 -m grader report OUT` (an HTML
gradebook of a graded folder) and `python3 -m grader course ...`.

Standard library only, Python >= 3.11. README.md ("Grading") is the instructor's guide."""
