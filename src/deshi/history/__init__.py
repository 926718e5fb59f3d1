"""History import: a team's labelled past work brought in as completed items, its labels
audited, and the agent warm-started on it (issue #22)."""
