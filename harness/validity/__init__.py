"""Validity checks on system output (flags that never change a score), language ID, and the
opt-in post-processing of LLM output. ``checks`` holds the pure per-segment functions,
``report`` the per-system counts, ``leaf`` what the runner calls."""
