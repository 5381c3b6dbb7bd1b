"""The writer's fast session building gives the rows the plain per-row reading
of ``getstats()`` gives, whatever the memo holds from earlier profiles."""

from __future__ import annotations

import cProfile
import gc
import math

import pytest
from support import apps

from linesman.backends.base import SessionRefused, storable_document
from linesman.model.codec import decode_session, encode_session
from linesman.model.rows import (
    CallStats,
    FunctionStats,
    function_key,
    is_profiler_noise,
    label_of,
    splice_out,
    stats_from_profile,
)
from linesman.model.session import ProfilingSession
from linesman.wrappers import kept_environ


def plain_rows(entries, hidden=frozenset()):
    """The reference: one entry, one sub-entry at a time, hooks spliced first."""
    functions, calls = [], []
    for entry in splice_out(entries, hidden):
        label = label_of(entry.code)
        if is_profiler_noise(label):
            continue
        function = FunctionStats(
            *label, entry.callcount, entry.reccallcount, entry.inlinetime, entry.totaltime
        )
        functions.append(function)
        for sub in entry.calls or ():
            sub_label = label_of(sub.code)
            if not is_profiler_noise(sub_label):
                calls.append(
                    CallStats(
                        function.key,
                        function_key(*sub_label),
                        sub.callcount,
                        sub.reccallcount,
                        sub.inlinetime,
                        sub.totaltime,
                    )
                )
    return functions, calls


class Hook:
    """Stands for linesman's start_response: a function the app calls, left out."""

    def __init__(self, server_start_response):
        self.server_start_response = server_start_response

    def start_response(self, status, headers, *exc_info):
        return self.server_start_response(status, headers)


HIDDEN = frozenset({Hook.start_response.__code__})


def server_start_response(status, headers):
    str(status)
    return len


def two_callers_app(environ, start_response):
    def inner():
        start_response("200 OK", [])
        sorted([3, 1, 2])

    inner()
    start_response("200 OK", [])
    apps.spin(0.0005)
    return [b"ok"]


def profile_of(app):
    profile = cProfile.Profile()
    profile.enable()
    try:
        list(app({}, Hook(server_start_response).start_response))
    finally:
        profile.disable()
    return profile.getstats()


def as_tuples(rows):
    functions, calls = rows
    return [tuple(f) for f in functions], [tuple(c) for c in calls]


def test_the_rows_are_those_of_the_plain_reading():
    known: dict = {}
    for app in (two_callers_app, apps.hello_app, two_callers_app):
        entries = profile_of(app)
        fast = stats_from_profile(entries, known, HIDDEN)
        assert as_tuples(fast) == as_tuples(plain_rows(entries, HIDDEN))
        assert all(type(f) is FunctionStats for f in fast[0])
        assert all(type(c) is CallStats for c in fast[1])
        assert not any("Hook.start_response" in f.name for f in fast[0])
        assert not any("_lsprof" in f.name for f in fast[0])


def equal_functions_in_two_files():
    """Two code objects equal by content (code compares without its file name)."""
    made = []
    for file in ("first_file.py", "second_file.py"):
        namespace: dict = {}
        exec(compile("def twin():\n    return 1\n", file, "exec"), namespace)  # noqa: S102
        made.append(namespace["twin"])
    assert made[0].__code__ == made[1].__code__  # what a memo keyed by code would merge
    return made


def test_the_memo_never_gives_one_code_anothers_label():
    known: dict = {}
    first, second = equal_functions_in_two_files()
    for twin in (first, second, first):
        profile = cProfile.Profile()
        profile.enable()
        twin()
        profile.disable()
        functions, _ = stats_from_profile(profile.getstats(), known)
        assert [f.file for f in functions if f.name == "twin"] == [twin.__code__.co_filename]


def test_functions_made_per_request_keep_their_own_names():
    """Code objects made and dropped request after request (ids are reused once one
    is freed): each profile names its own."""
    known: dict = {}
    for number in range(60):
        namespace: dict = {}
        exec(f"def request_{number}():\n    return {number}\n", namespace)  # noqa: S102
        profile = cProfile.Profile()
        profile.enable()
        namespace[f"request_{number}"]()
        profile.disable()
        entries = profile.getstats()
        del namespace
        gc.collect()
        functions, _ = stats_from_profile(entries, known)
        assert [f.name for f in functions if f.name.startswith("request_")] == [f"request_{number}"]


def test_a_session_encodes_and_reads_back_unchanged():
    functions, calls = stats_from_profile(profile_of(two_callers_app), {}, HIDDEN)
    session = ProfilingSession.from_rows(
        functions=functions, calls=calls, path="/é", headers={"HTTP_HOST": "ünï"}
    )
    assert decode_session(encode_session(session)).to_dict() == session.to_dict()


@pytest.mark.parametrize("figure", [math.nan, math.inf, -math.inf])
def test_a_figure_that_is_not_finite_is_refused_on_write(figure):
    session = ProfilingSession.from_rows(
        functions=[FunctionStats("app.py", 1, "view", 1, 0, 0.001, figure)], calls=[]
    )
    with pytest.raises(SessionRefused):
        storable_document(session)


def test_the_environ_a_record_keeps_is_bounded_text():
    environ = {"PATH_INFO": "/x", "QUERY_STRING": "q=" + "a" * 20_000, "wsgi.input": object()}
    kept = kept_environ(environ)
    assert kept == {"PATH_INFO": "/x", "QUERY_STRING": ("q=" + "a" * 20_000)[:8192]}
    assert kept_environ({"PATH_INFO": "/x", "CONTENT_LENGTH": 12}) == {
        "PATH_INFO": "/x",
        "CONTENT_LENGTH": "12",
    }
    assert kept_environ({}) == {}


def test_the_quick_header_check_answers_as_the_whole_check(make_profiled):
    from support.login import cookie_environ, token_environ

    middleware = make_profiled(apps.hello_app)
    access = middleware.ui.access
    signer = middleware.current_signer()
    local = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}
    cases = [
        local,
        {**local, "REMOTE_ADDR": "10.9.8.7"},
        {**local, **token_environ(middleware)},
        {**local, **cookie_environ(middleware, under_ui=False)},
        {**local, "HTTP_COOKIE": "other=1"},
        {**local, "HTTP_AUTHORIZATION": f"Bearer {signer.login_token}"},
        {**local, "QUERY_STRING": f"a=1&token={signer.login_token}"},
        {**local, "QUERY_STRING": "token=wrong"},
    ]
    answers = [access.allows_session_header(environ) for environ in cases]
    assert answers == [access.check(environ, refresh=False).allowed for environ in cases]
    assert answers[0] is False and True in answers
