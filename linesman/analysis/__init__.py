"""Views across sessions: endpoints (folded paths) and their figures, merged
profiles, comparisons, references and time ranges."""
