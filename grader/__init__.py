"""The grader: grades student submissions (see DESIGN.md, "Submissions and grading")."""
