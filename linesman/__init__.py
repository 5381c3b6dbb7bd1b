"""linesman: WSGI profiling middleware with pluggable storage and a web UI.

Wrap a WSGI app with :class:`linesman.middleware.ProfilingMiddleware` (or the
PasteDeploy filter ``egg:linesman#profiler``); each request is profiled with
cProfile, stored as a :class:`ProfilingSession` through a backend, and shown
under ``/__profiler__``.
"""

from linesman.exporters.original_graph import create_graph, draw_graph
from linesman.model.session import ProfilingSession

__all__ = ["ProfilingSession", "create_graph", "draw_graph", "__version__"]

__version__ = "0.9.0"
