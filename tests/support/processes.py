"""Worker processes for the tests that race several processes on one store."""

from __future__ import annotations

import multiprocessing

# What the workers import: loaded once, in the server process they are forked from.
PRELOAD = [
    "pytest",
    "support.sessions",
    "linesman.backends.pickle",
    "linesman.backends.sqlite",
    "linesman.backends.sqlalchemy",
    "psycopg",
    "pymysql",
]


def start_together(count: int, target, args: tuple) -> list:
    """``count`` processes running ``target(*args)``, started; join them.

    They are forked from a server process (multiprocessing's forkserver) that has
    the stores' modules loaded, so they start within milliseconds of each other
    and race for real; spawned, each took seconds to import them on a busy
    machine, which spread them out. The server process is clean (it never ran a
    test, nor a thread), so forking it is safe."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    workers = [context.Process(target=target, args=args) for _ in range(count)]
    for worker in workers:
        worker.start()
    return workers
