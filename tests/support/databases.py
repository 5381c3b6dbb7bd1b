"""The database servers these machines run, for the SQLAlchemy backend's tests."""

from __future__ import annotations

import os
import uuid

from support.require import require

URLS = {
    "postgresql": os.environ.get(
        "LINESMAN_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "LINESMAN_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}


_REACHED: set[str] = set()  # servers a connection has worked with in this run


def reachable(url: str) -> str | None:
    """None if a connection works (once in a run: a server that answered is not
    asked again before each test's tables), else why not."""
    if url in _REACHED:
        return None
    import sqlalchemy as sa

    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        _REACHED.add(url)
        return None
    except Exception as exc:  # any reason the server cannot be used
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


def server_backend(kind: str, **options):
    """A SQLAlchemyBackend on its own fresh tables of the named server."""
    from linesman.backends.sqlalchemy import SQLAlchemyBackend

    url = URLS[kind]
    problem = reachable(url)
    require(problem is None, f"a {kind} server at {url} ({problem})")
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    return SQLAlchemyBackend(url=url, table_prefix=prefix, **options)


def middleware_on(store, app, **options):
    """A ProfilingMiddleware storing into the tables of ``store`` (a SQLAlchemyBackend)."""
    from linesman.middleware import ProfilingMiddleware

    return ProfilingMiddleware(
        app,
        backend="linesman.backends.sqlalchemy:SQLAlchemyBackend",
        url=store.url.render_as_string(hide_password=False),
        table_prefix=store.table_prefix,
        **options,
    )
