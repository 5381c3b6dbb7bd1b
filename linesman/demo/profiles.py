"""Large real profiles, made on the spot: for the benchmarks, the tests and trying
the UI on more than the demo's small requests."""

from __future__ import annotations

import cProfile

from linesman.model.session import ProfilingSession

__all__ = ["many_functions_session"]


def many_functions_session(count: int = 5000) -> ProfilingSession:
    """A real cProfile run of ``count`` distinct functions, as a big app makes."""
    source = "\n".join(f"def f{n}(x):\n    return x + {n}\n" for n in range(count))
    source += "\ndef run():\n    total = 0\n"
    source += "".join(f"    total = f{n}(total)\n" for n in range(count))
    source += "    return total\n"
    namespace: dict = {}
    exec(compile(source, "/srv/app/generated.py", "exec"), namespace)
    profile = cProfile.Profile()
    profile.enable()
    namespace["run"]()
    profile.disable()
    return ProfilingSession(
        profile.getstats(), {"REQUEST_METHOD": "GET", "PATH_INFO": "/big"}, status=200
    )
