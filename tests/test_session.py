import cProfile
import json
import uuid

import pytest
from support.apps import spin

from linesman import ProfilingSession
from linesman.model.codec import decode_session, encode_session
from linesman.model.session import SessionFormatError, mask_query


class First:
    def __init__(self):
        spin(0.001)


class Second:
    def __init__(self):
        spin(0.001)


def workload():
    First()
    Second()
    return sum(range(1000))


def profile_of(function):
    profile = cProfile.Profile()
    profile.enable()
    function()
    profile.disable()
    return profile.getstats()


ENVIRON = {
    "REQUEST_METHOD": "POST",
    "SCRIPT_NAME": "/app",
    "PATH_INFO": "/caf\xc3\xa9",  # "café" as WSGI delivers UTF-8 bytes
    "QUERY_STRING": "q=1&api_key=abc&password=s3cret&page=2&authToken=x&empty=",
    "HTTP_HOST": "localhost:8080",
    "HTTP_COOKIE": "session=secret",
    "HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg==",
    "HTTP_USER_AGENT": "pytest",
}


def test_a_session_from_real_getstats_holds_every_function():
    session = ProfilingSession(profile_of(workload), ENVIRON)
    names = {function.name for function in session.functions}
    assert {"workload", "First.__init__", "Second.__init__", "spin"} <= names
    assert "<built-in method builtins.sum>" in names
    assert not any("_lsprof" in name for name in names), "the profiler's own disable() leaked"


def test_two_init_methods_of_one_module_stay_two_nodes():
    session = ProfilingSession(profile_of(workload), ENVIRON)
    inits = [f for f in session.functions if f.name.endswith("__init__")]
    assert len({f.key for f in inits}) == 2
    graph = session.graph
    assert {key for key in graph if key.endswith("__init__)")} == {f.key for f in inits}
    assert all(__file__ in key for key in (f.key for f in inits))


def test_uuid_is_a_random_version_4():
    session = ProfilingSession([], ENVIRON)
    parsed = uuid.UUID(session.uuid)
    assert parsed.version == 4
    assert ProfilingSession([], ENVIRON).uuid != session.uuid


def test_request_summary_keeps_no_credentials():
    session = ProfilingSession([], ENVIRON, timestamp=1700000000.5)
    assert session.method == "POST"
    assert session.path == "/app/café"
    assert session.timestamp == session.started == 1700000000.5
    assert session.query == "q=1&api_key=***&password=***&page=2&authToken=***&empty="
    assert session.headers == {"HTTP_HOST": "localhost:8080", "HTTP_USER_AGENT": "pytest"}
    assert "secret" not in json.dumps(session.to_dict())
    assert "Zm9v" not in json.dumps(session.to_dict())


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ""),
        ("a=1", "a=1"),
        ("token=abc", "token=***"),
        ("SECRET=abc&x=y", "SECRET=***&x=y"),
        ("key", "key"),
        ("sessionid=zzz;x", "sessionid=***;x"),  # ; separates parameters too
        ("monkey=1", "monkey=***"),
    ],
)
def test_mask_query(query, expected):
    assert mask_query(query) == expected


def test_duration_defaults_to_the_profiled_time():
    session = ProfilingSession(profile_of(workload))
    slowest = max(f.totaltime for f in session.functions)
    assert session.duration == slowest > 0


def test_round_trip_through_the_document_keeps_every_figure():
    session = ProfilingSession(
        profile_of(workload),
        ENVIRON,
        duration=0.0123,
        cpu_time=0.0101,
        status=201,
        response_size=77,
        error="ValueError: x",
        concurrent=True,
    )
    again = ProfilingSession.from_dict(json.loads(json.dumps(session.to_dict())))
    assert again == session
    assert again.functions == session.functions
    assert again.calls == session.calls
    assert (again.status, again.response_size, again.error, again.concurrent) == (
        201,
        77,
        "ValueError: x",
        True,
    )
    decoded = decode_session(encode_session(session))
    assert decoded.to_dict() == session.to_dict()
    for mine, theirs in zip(session.functions, decoded.functions, strict=True):
        assert mine.totaltime == theirs.totaltime and mine.inlinetime == theirs.inlinetime


def test_failed_marks_errors_and_server_errors():
    assert ProfilingSession([], status=500).failed
    assert ProfilingSession([], status=200, error="Boom").failed
    assert not ProfilingSession([], status=404).failed


@pytest.mark.parametrize(
    "document, message",
    [
        ({"schema": "other"}, "not a linesman session"),
        ({"schema": "linesman.session", "version": 99}, "newer"),
        ({"schema": "linesman.session", "version": 1, "uuid": "x"}, "damaged"),
    ],
)
def test_unreadable_documents_raise_a_format_error(document, message):
    with pytest.raises(SessionFormatError, match=message):
        ProfilingSession.from_dict(document)


def test_garbage_bytes_are_a_format_error():
    with pytest.raises(SessionFormatError):
        decode_session(b"\x00not zlib")
