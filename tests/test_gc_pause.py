"""The collector is paused while a big profile's page is built, and left as the
app had it afterwards."""

from __future__ import annotations

import gc
import threading

from support import apps
from support.login import ui_client

from linesman.demo.profiles import many_functions_session
from linesman.model.gc_pause import paused_gc


def test_a_page_is_built_with_the_collector_paused_and_restored_after(make_profiled):
    middleware = make_profiled(apps.hello_app)
    session = many_functions_session(2_000)
    middleware.backend.add(session)
    seen = []
    reading = middleware.backend.get

    def get(uuid):
        seen.append(gc.isenabled())  # what decoding and the page's building run under
        return reading(uuid)

    middleware.backend.get = get
    assert gc.isenabled()
    ui_client(middleware).get(f"/__profiler__/profiles/{session.uuid}?cutoff=0")
    assert seen == [False]
    assert gc.isenabled()


def test_an_app_that_disabled_the_collector_keeps_it_disabled(make_profiled):
    middleware = make_profiled(apps.hello_app)
    session = many_functions_session(100)
    middleware.backend.add(session)
    gc.disable()
    try:
        ui_client(middleware).get(f"/__profiler__/profiles/{session.uuid}")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_restore_the_collector_only_when_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    def long_pause():
        with paused_gc():
            inside.set()
            release.wait(10)

    other = threading.Thread(target=long_pause)
    other.start()
    assert inside.wait(10)
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's page is still being built
    release.set()
    other.join(10)
    assert gc.isenabled()
