"""Profiling one request: the cProfile engine, the sampling engine, and the gate
that decides which one a request gets (the one place that knows CPython 3.12+
has one profiler per process)."""
