"""emlab's batch grader: `python3 -m grader grade ...` and `python3 -m grader course ...`.

Standard library only, Python >= 3.11. README.md ("Grading") is the instructor's guide."""
