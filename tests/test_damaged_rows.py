"""Hostile rows: a stored row or document of wrong types or extreme values is
shown as damaged, left out of the figures, and never breaks a page for the
others; a document the pickle store cannot write back is refused alone."""

from __future__ import annotations

import json
import logging
import math
import pickle
import re
import sqlite3
import zlib
from pathlib import Path

import pytest
from conftest import ARTIFACTS
from support import apps
from support.accessibility import axe_violations
from support.databases import middleware_on, server_backend
from support.login import ui_client
from support.pages import endpoint_rows, visible_text
from support.servers import demo_with_sessions, login_headers
from support.sessions import real_session
from support.wsgi_client import SESSION_HEADER

from linesman.backends.pickle import PickleBackend
from linesman.backends.sqlite_schema import SCHEMA
from linesman.middleware import ProfilingMiddleware
from linesman.model.session import ProfilingSession
from linesman.storage.batches import BatchStore
from linesman.storage.health import Health

BAD_UUID = "0badbad0-0000-4000-8000-000000000000"
ENDPOINT = "GET /api/users/{id}"
DEEP = 100_000


def document_with(**changes) -> bytes:
    """A real session's stored document with some fields changed (no check)."""
    document = real_session("/api/users/3").to_dict() | {"uuid": BAD_UUID} | changes
    return zlib.compress(json.dumps(document).encode())


# Each kind of hostile value a row of the sessions table (see sqlite_schema.SCHEMA)
# may hold: (column, value). The row is otherwise a real session's, of ENDPOINT.
SQLITE_KINDS = {
    "uuid-int": ("uuid", 12345),
    "uuid-bytes": ("uuid", b"\x00\xff"),
    "timestamp-text": ("timestamp", "yesterday"),
    "timestamp-inf": ("timestamp", math.inf),
    "timestamp-minus-inf": ("timestamp", -math.inf),
    "timestamp-negative": ("timestamp", -1e12),
    "timestamp-huge": ("timestamp", 1e300),
    "timestamp-bytes": ("timestamp", b"\x01\x02"),
    "method-bytes": ("method", b"GET"),  # (a number in a TEXT column is stored as text)
    "path-bytes": ("path", b"/api/users/\xff"),
    "path-huge": ("path", "/api/users/" + "x" * 1_000_000),
    "query-bytes": ("query", b"a=1"),
    "status-text": ("status", "OK"),
    "status-negative": ("status", -1),
    "status-2**63": ("status", str(2**63)),  # INTEGER affinity keeps it as REAL
    "status-huge": ("status", 2**62),
    "status-fraction": ("status", 200.5),
    "status-bytes": ("status", b"200"),
    "duration-text": ("duration", "12 ms"),
    "duration-negative": ("duration", -0.5),
    "duration-inf": ("duration", math.inf),
    "duration-huge": ("duration", 1e300),
    "duration-bytes": ("duration", b"\x00"),
    "cpu-text": ("cpu_time", "fast"),
    "cpu-minus-inf": ("cpu_time", -math.inf),
    "failed-text": ("failed", "yes"),
    "failed-huge": ("failed", 2**62),
}
# What SQLite refuses in a NOT NULL column, as a table made by another tool may hold.
LAX_KINDS = {
    "uuid-null": ("uuid", None),
    "timestamp-nan": ("timestamp", math.nan),  # SQLite stores a NaN as NULL
    "method-null": ("method", None),
    "path-null": ("path", None),
    "duration-nan": ("duration", math.nan),
    "failed-null": ("failed", None),
}
# Documents that are not a session, with sound columns beside them.
DOCUMENT_KINDS = {
    "document-garbage": b"\x00garbage\xff",
    "document-zlib-garbage": zlib.compress(b"\x89PNG, not JSON"),
    "document-text": "a text value where the blob is",
    "document-deep": zlib.compress(b"[" * DEEP + b"]" * DEEP),
    "document-list": zlib.compress(b"[1, 2, 3]"),
    "document-status-text": document_with(status="OK"),
    "document-timestamp-text": document_with(timestamp="yesterday"),
    "document-duration-huge": document_with(duration=1e300),
    "document-functions-wrong": document_with(functions=[["only a file"]]),
}


# -- the pages every check loads ------------------------------------------------
LIST_PAGES = [
    "/__profiler__/",
    "/__profiler__/?sort=duration",
    "/__profiler__/?sort=duration&order=asc",
    "/__profiler__/?sort=status",
    "/__profiler__/?sort=path&order=asc",
    "/__profiler__/?order=asc",
    "/__profiler__/?path=users",
    "/__profiler__/?status=200",
    "/__profiler__/?min_ms=1",
    "/__profiler__/?method=GET",
    "/__profiler__/api/sessions",
    "/__profiler__/api/sessions?sort=duration&order=asc",
    "/__profiler__/api/sessions?sort=status",
]
FIGURE_PAGES = [
    "/__profiler__/endpoints",
    "/__profiler__/endpoints/merged?endpoint=GET+/api/users/{id}",
    "/__profiler__/endpoints/merged.prof?endpoint=GET+/api/users/{id}",
    "/__profiler__/compare?a=GET+/api/users/{id}&b=GET+/api/users/{id}",
    "/__profiler__/api/compare?a=GET+/api/users/{id}&b=GET+/api/users/{id}",
]


def get(client, path: str):
    """The page, whatever its status; a 500 fails the test with its path."""
    page = client.get(path, expect_errors=True)
    assert page.status_int < 500, f"{path} answered {page.status}: {visible_text(page.text)}"
    return page


def good_sessions(client, middleware) -> list[str]:
    uuids = []
    for path in ("/api/users/1", "/api/users/2"):
        uuids.append(client.get(path).headers[SESSION_HEADER].split(";")[0])
        assert middleware.flush(10)
    return uuids


def check_every_page(client, good: list[str], bad_uuid: str | None) -> dict[str, object]:
    """Load every page that lists or folds sessions, the good sessions' own, and the
    bad row's (a 410 that says it is damaged); the pages by path, the bad row's own
    as "session"."""
    pages: dict[str, object] = {}
    for path in LIST_PAGES + FIGURE_PAGES:
        pages[path] = get(client, path)
    for path in (
        f"/__profiler__/profiles/{good[0]}",
        f"/__profiler__/api/sessions/{good[0]}",
        f"/__profiler__/compare?a={good[0]}&b={good[1]}",
    ):
        assert get(client, path).status_int == 200, path
    median = get(client, f"/__profiler__/profiles/{good[0]}/versus-median")
    assert median.status_int == 303
    assert get(client, median.location).status_int == 200
    if bad_uuid is not None:
        for path in (
            f"/__profiler__/profiles/{bad_uuid}",
            f"/__profiler__/api/sessions/{bad_uuid}",
            f"/__profiler__/profiles/{bad_uuid}.prof",
            f"/__profiler__/compare?a={good[0]}&b={bad_uuid}",
        ):
            page = get(client, path)
            assert page.status_int == 410, f"{path} answered {page.status}"
            assert "damaged" in page.text, path
        pages["session"] = get(client, f"/__profiler__/profiles/{bad_uuid}")
    return pages


def damaged_rows(html: str) -> int:
    return html.count('<tr class="damaged"')


FIGURE_COLUMNS = ("method", "path", "duration", "failed", "status", "timestamp")


def assert_shown_as_damaged(pages: dict, good: list[str], in_figures: bool = True) -> None:
    """The list and the API flag the bad row; the endpoints page leaves it out and
    says so, unless ``in_figures`` is False: its fault is in a column the figures
    never read (its id, query or CPU time), and what they read of it is sound."""
    listing = pages["/__profiler__/"].text
    assert damaged_rows(listing) == 1, "the bad row is not flagged in the list"
    assert "1 damaged row" in visible_text(listing)
    for uuid in good:
        assert f"/profiles/{uuid}" in listing
    sessions = pages["/__profiler__/api/sessions"].json["sessions"]
    assert len(sessions) == 3
    assert sum(1 for row in sessions if row.get("damaged")) == 1
    endpoints = pages["/__profiler__/endpoints"].text
    if not in_figures:
        assert (ENDPOINT, "3") in endpoint_rows(endpoints)
        return
    assert (ENDPOINT, "2") in endpoint_rows(endpoints), "the bad row was counted in figures"
    assert "1 damaged row left out of these figures" in visible_text(endpoints)


# -- SQLite --------------------------------------------------------------------------
def sqlite_store(make_profiled, tmp_path: Path, lax: bool = False):
    filename = tmp_path / "sessions.db"
    if lax:  # the table as a tool that does not enforce NOT NULL would make it
        with sqlite3.connect(filename) as connection:
            connection.executescript(SCHEMA.replace(" NOT NULL", ""))
    middleware = make_profiled(apps.hello_app, filename=str(filename))
    client = ui_client(middleware)
    return middleware, client, good_sessions(client, middleware), filename


def insert_copy(filename: Path, source: str, **columns: object) -> None:
    """A copy of row ``source`` under id BAD_UUID, with ``columns`` changed, as raw SQL."""
    with sqlite3.connect(filename) as connection:
        names = [row[1] for row in connection.execute("PRAGMA table_info(sessions)")]
        row = dict(
            zip(
                names,
                connection.execute("SELECT * FROM sessions WHERE uuid = ?", (source,)).fetchone(),
                strict=True,
            )
        )
        row.update({"uuid": BAD_UUID, "path": "/api/users/3"} | columns)
        marks = ", ".join("?" * len(names))
        connection.execute(
            f"INSERT INTO sessions ({', '.join(names)}) VALUES ({marks})",
            [row[name] for name in names],
        )


@pytest.mark.parametrize(
    ("column", "value"),
    [*SQLITE_KINDS.values(), *LAX_KINDS.values()],
    ids=[*SQLITE_KINDS, *LAX_KINDS],
)
def test_a_hostile_sqlite_row_is_shown_damaged_and_breaks_no_page(
    make_profiled, tmp_path, column, value
):
    lax = value is None or (isinstance(value, float) and math.isnan(value))
    middleware, client, good, filename = sqlite_store(make_profiled, tmp_path, lax)
    insert_copy(filename, good[0], **{column: value})
    with sqlite3.connect(filename) as connection:
        assert connection.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 3
    pages = check_every_page(client, good, BAD_UUID if column != "uuid" else None)
    assert_shown_as_damaged(pages, good, column in FIGURE_COLUMNS)


@pytest.mark.parametrize("document", DOCUMENT_KINDS.values(), ids=DOCUMENT_KINDS)
def test_a_hostile_sqlite_document_is_a_damaged_session_and_breaks_no_page(
    make_profiled, tmp_path, document, caplog
):
    middleware, client, good, filename = sqlite_store(make_profiled, tmp_path)
    insert_copy(filename, good[0], document=document)
    with caplog.at_level(logging.ERROR, logger="linesman"):
        pages = check_every_page(client, good, BAD_UUID)
    assert "cannot be read" in pages["session"].text
    assert f"/profiles/{BAD_UUID}: " in caplog.text, "the damaged session is not in the log"
    # Once opened, the list flags it; the merged profile adds up the other two.
    assert damaged_rows(get(client, "/__profiler__/").text) == 1
    merged = get(client, FIGURE_PAGES[1])
    assert merged.status_int == 200
    assert "(2 sessions merged)" in visible_text(merged.text)


# -- pickle ----------------------------------------------------------------------
PICKLE_KINDS = {
    "timestamp-text": ("timestamp", "yesterday"),
    "timestamp-nan": ("timestamp", math.nan),
    "timestamp-inf": ("timestamp", math.inf),
    "timestamp-negative": ("timestamp", -1.0),
    "timestamp-huge": ("timestamp", 1e300),
    "timestamp-none": ("timestamp", None),
    "uuid-int": ("uuid", 7),
    "method-int": ("method", 7),
    "method-none": ("method", None),
    "path-bytes": ("path", b"/api/users/3"),
    "path-list": ("path", ["/api", "users"]),
    "query-int": ("query", 7),
    "status-text": ("status", "OK"),
    "status-negative": ("status", -1),
    "status-2**63": ("status", 2**63),
    "status-fraction": ("status", 200.5),
    "status-list": ("status", [200]),
    "duration-text": ("duration", "12 ms"),
    "duration-nan": ("duration", math.nan),
    "duration-minus-inf": ("duration", -math.inf),
    "duration-none": ("duration", None),
    "cpu-text": ("cpu_time", "fast"),
    "failed-text": ("failed", "yes"),
    "headers-deep": ("headers", "deep"),  # 100,000 lists deep, see nested()
}
PICKLE_DOCUMENTS = {
    "document-list": [1, 2, 3],
    "document-text": "not a document",
    "document-none": None,
    "document-empty": {},
}


def nested(depth: int) -> list:
    """A list ``depth`` lists deep, built without recursion."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def pickle_store(tmp_path: Path):
    filename = tmp_path / "sessions.dat"
    middleware = ProfilingMiddleware(
        apps.hello_app, backend="linesman.backends.pickle:PickleBackend", filename=str(filename)
    )
    client = ui_client(middleware)
    return middleware, client, good_sessions(client, middleware), filename


def write_plain_pickle(filename: Path, content: dict, deep: object = None) -> None:
    """The store file as another writer left it. ``deep`` (in place of the string
    "DEEP") is written as opcodes, since pickle.dump cannot write it."""
    data = pickle.dumps(content, protocol=3)  # no frames: the bytes may be spliced
    if deep is not None:
        marker = b"X" + len(b"DEEP").to_bytes(4, "little") + b"DEEP"
        assert data.count(marker) == 1
        data = data.replace(marker, b"]" * DEEP + b"a" * (DEEP - 1))
    filename.write_bytes(data)


def plant_pickle_document(filename: Path, source: str, change) -> None:
    with open(filename, "rb") as handle:
        content = pickle.load(handle)
    document = dict(content["sessions"][source], uuid=BAD_UUID, path="/api/users/3")
    content["sessions"][BAD_UUID] = change(document)
    deep = None
    if content["sessions"][BAD_UUID] == "deep":  # see nested()
        content["sessions"][BAD_UUID] = dict(document, headers="DEEP")
        deep = True
    write_plain_pickle(filename, content, deep)


@pytest.mark.parametrize(
    ("field", "value"),
    [*PICKLE_KINDS.values(), *((None, value) for value in PICKLE_DOCUMENTS.values())],
    ids=[*PICKLE_KINDS, *PICKLE_DOCUMENTS],
)
def test_a_hostile_pickle_session_is_shown_damaged_and_breaks_no_page(tmp_path, field, value):
    middleware, client, good, filename = pickle_store(tmp_path)
    try:

        def change(document):
            if field is None:
                return value
            if value == "deep":
                return "deep"
            return dict(document, **{field: value})

        plant_pickle_document(filename, good[0], change)
        headers = field == "headers"
        pages = check_every_page(client, good, BAD_UUID)
        if headers:  # its summary is sound: the list learns of it once it is opened
            assert damaged_rows(get(client, "/__profiler__/").text) == 1
        else:
            assert_shown_as_damaged(pages, good)
        # Later sessions are still stored (the file is rewritten with the bad one).
        client.get("/api/users/4")
        assert middleware.flush(10)
        assert middleware.health.store_error is None
        assert len(get(client, "/__profiler__/api/sessions").json["sessions"]) == 4
    finally:
        middleware.close()


def deep_session() -> ProfilingSession:
    """A session no pickle can write: a header 100,000 lists deep."""
    return real_session("/deep").replace(headers={"X-Deep": nested(DEEP)})


def waiting(session: ProfilingSession):
    from linesman.storage.backlog import Waiting

    return Waiting(session, 1000, None, False)


def test_a_session_pickle_cannot_write_is_refused_alone_and_storage_goes_on(tmp_path, caplog):
    """Before, the RecursionError of pickle.dump left the deep document in the
    store's memory: every later write failed, every later session was lost, and
    the UI said nothing."""
    filename = tmp_path / "sessions.dat"
    backend = PickleBackend(filename=str(filename))
    backend.setup()
    health = Health()
    batches = BatchStore(backend, health)
    first, second, later = (real_session(f"/kept/{n}") for n in range(3))
    with caplog.at_level(logging.ERROR, logger="linesman"):
        assert batches.store([waiting(first), waiting(deep_session()), waiting(second)]) == 2
        assert batches.store([waiting(later)]) == 1
    assert health.counts()["lost.refused_by_store"] == 1
    assert "refused a session" in caplog.text and "/deep" in caplog.text
    again = PickleBackend(filename=str(filename))
    assert sorted(row["path"] for row in again.summaries()) == ["/kept/0", "/kept/1", "/kept/2"]
    assert not list(tmp_path.glob(".linesman-*")), "a temporary file was left behind"


def test_a_refused_session_shows_in_the_ui(tmp_path):
    middleware, client, good, filename = pickle_store(tmp_path)
    try:
        BatchStore(middleware.backend, middleware.health).store([waiting(deep_session())])
        listing = visible_text(get(client, "/__profiler__/").text)
        assert "1 lost" in listing and "refused by the store" in listing
        assert "GET /deep: SessionRefused" in listing and "RecursionError" in listing
        client.get("/api/users/5")
        assert middleware.flush(10)
        assert len(PickleBackend(filename=str(filename)).summaries()) == 3
    finally:
        middleware.close()


def test_a_stored_document_pickle_cannot_write_back_is_set_aside(tmp_path, caplog):
    """A file another writer left with a header 100,000 lists deep: it reads, and
    storing goes on after it (before, every write raised RecursionError); that
    session is kept as a damaged row, and the file as it was is kept aside."""
    filename = tmp_path / "sessions.dat"
    kept = real_session("/kept")
    deep = real_session("/deep").to_dict() | {"uuid": BAD_UUID, "headers": "DEEP"}
    write_plain_pickle(
        filename,
        {
            "format": "linesman-pickle",
            "version": 1,
            "sessions": {BAD_UUID: deep, kept.uuid: kept.to_dict()},
            "settings": {},
        },
        deep=True,
    )
    original = filename.read_bytes()
    backend = PickleBackend(filename=str(filename))
    backend.setup()
    assert len(backend.summaries()) == 2
    with caplog.at_level(logging.WARNING, logger="linesman"):
        backend.add(real_session("/later"))
    assert "cannot be written back" in caplog.text
    aside = list(tmp_path.glob("sessions.dat.unwritable-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == original
    rows = PickleBackend(filename=str(filename)).summaries()
    assert sorted(row["path"] for row in rows if not row.get("damaged")) == ["/kept", "/later"]
    (damaged,) = (row for row in rows if row.get("damaged"))
    assert damaged["uuid"] == BAD_UUID and "cannot be written back" in damaged["damaged"]


@pytest.mark.parametrize("kind", ["sqlite", "pickle"])
def test_a_session_that_would_read_back_damaged_is_refused_alone(tmp_path, kind):
    """Checked on the way in too: a session of a negative duration is refused (the
    others in its batch are stored), rather than stored as a damaged row."""
    from linesman.backends.sqlite import SqliteBackend

    if kind == "sqlite":
        backend = SqliteBackend(filename=str(tmp_path / "sessions.db"))
    else:
        backend = PickleBackend(filename=str(tmp_path / "sessions.dat"))
    backend.setup()
    health = Health()
    bad = real_session("/bad").replace(duration=-1.0)
    batch = [waiting(real_session("/a")), waiting(bad), waiting(real_session("/b"))]
    assert BatchStore(backend, health).store(batch) == 2
    assert health.counts()["lost.refused_by_store"] == 1
    assert "GET /bad" in health.last_lost and "duration -1.0" in health.last_lost
    rows = backend.summaries()
    assert sorted(row["path"] for row in rows) == ["/a", "/b"]
    assert not any(row.get("damaged") for row in rows)
    backend.close()


# -- SQLAlchemy on PostgreSQL ------------------------------------------------------
POSTGRESQL_KINDS = {
    "timestamp-nan": ("timestamp", math.nan),
    "timestamp-inf": ("timestamp", math.inf),
    "timestamp-minus-inf": ("timestamp", -math.inf),
    "timestamp-negative": ("timestamp", -1e12),
    "timestamp-huge": ("timestamp", 1e300),
    "status-negative": ("status", -1),
    "status-huge": ("status", 2**31 - 1),
    "duration-nan": ("duration", math.nan),
    "duration-inf": ("duration", math.inf),
    "duration-negative": ("duration", -0.5),
    "duration-huge": ("duration", 1e300),
    "cpu-nan": ("cpu_time", math.nan),
    "path-huge-text": ("query", "a=" + "x" * 1_000_000),
}


@pytest.fixture(scope="module")
def postgresql_store():
    store = server_backend("postgresql")
    store.setup()
    yield store
    store.drop_tables()
    store.close()


def postgresql_middleware(store):
    import sqlalchemy as sa

    with store.engine.begin() as connection:
        connection.execute(sa.delete(store.sessions))
    middleware = middleware_on(store, apps.hello_app)
    client = ui_client(middleware)
    return middleware, client, good_sessions(client, middleware)


def insert_postgresql_copy(store, source: str, **columns) -> None:
    import sqlalchemy as sa

    table = store.sessions
    with store.engine.begin() as connection:
        row = connection.execute(sa.select(table).where(table.c.uuid == source)).mappings().one()
        connection.execute(
            sa.insert(table), dict(row) | {"uuid": BAD_UUID, "path": "/api/users/3"} | columns
        )


@pytest.mark.server
@pytest.mark.parametrize(
    ("column", "value"),
    [*POSTGRESQL_KINDS.values(), *(("document", value) for value in DOCUMENT_KINDS.values())],
    ids=[*POSTGRESQL_KINDS, *DOCUMENT_KINDS],
)
def test_a_hostile_postgresql_row_is_shown_damaged_and_breaks_no_page(
    postgresql_store, column, value
):
    if column == "document" and isinstance(value, str):
        value = value.encode()
    middleware, client, good = postgresql_middleware(postgresql_store)
    try:
        insert_postgresql_copy(postgresql_store, good[0], **{column: value})
        pages = check_every_page(client, good, BAD_UUID)
        if column == "document":
            assert damaged_rows(get(client, "/__profiler__/").text) == 1
        else:
            assert_shown_as_damaged(pages, good, column in FIGURE_COLUMNS)
    finally:
        middleware.close()


# -- in a browser ---------------------------------------------------------------
@pytest.mark.server
def test_damaged_rows_read_well_in_chromium(browser, tmp_path):
    """The list and the endpoints page with damaged rows (one with no id the pages
    can open, and a long path): no console error, no sideways scroll at 390 px,
    nothing serious for axe-core."""
    store = tmp_path / "sessions.db"
    with demo_with_sessions(store, ("/slow", "/json")) as (port, backend):
        source = backend.list_summaries(0, 1)[0]["uuid"]
        insert_copy(store, source, duration="12 ms")
        insert_copy(store, source, uuid=b"\x00\xff", path="/long/" + "x" * 300, status=-1)
        base = f"http://127.0.0.1:{port}/__profiler__"
        login = f"{base}/?token={login_headers(store)['X-Linesman-Token']}"
        errors: list[str] = []
        for width in (1400, 390):
            context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(login)
            for path, name in (("/", "damaged-list"), ("/endpoints", "damaged-endpoints")):
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
                wide, window = page.evaluate(
                    "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                )
                assert wide <= window, f"{path} at {width} px is {wide} px wide"
                assert axe_violations(page) == [], f"{path} at {width} px"
                assert "2 damaged rows" in page.inner_text("main")
            page.goto(base + "/")
            assert page.locator("tr.damaged").count() == 2
            context.close()
            assert errors == []


# -- the check itself ------------------------------------------------------------
def test_a_sound_row_passes_unchanged_and_a_bad_one_says_why():
    from linesman.backends.row_check import summary_of_row

    session = real_session()
    row = tuple(session.summary().values())
    assert summary_of_row(row) == session.summary()
    damaged = summary_of_row((*row[:6], "12 ms", *row[7:]))
    assert re.search(r"duration .*'12 ms'", damaged["damaged"])
    assert damaged["duration"] == 0.0 and damaged["uuid"] == session.uuid
