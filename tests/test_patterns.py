"""Outside patterns: RE2's answers, through the direct matcher the request path uses."""

from __future__ import annotations

import pytest
import re2

from linesman.patterns import LinearPattern, compile_pattern

TEXTS = ["/", "/users/42", "/日本/語", "/a\udcff", "", "/static/x.css", "/ä" * 500]
PATTERNS = ["^/", "users/[0-9]+$", "語", "^$", r"\.css$", "(a|ä)+$", "^/(a+)+$"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_search_answers_as_re2_does(pattern):
    fast = compile_pattern(pattern)
    slow = re2.compile(pattern)
    for text in TEXTS:
        if "\udcff" in text:  # the wrapper raises on a lone surrogate; see below
            continue
        assert (fast.search(text) is not None) == (slow.search(text) is not None), text


def test_without_the_direct_matcher_the_wrappers_search_answers():
    pattern = compile_pattern("users/[0-9]+$")
    fallback = LinearPattern(re2.compile("users/[0-9]+$"))
    fallback._matcher = None  # a google-re2 release without it
    for text in TEXTS[:3]:
        assert fallback.search(text) == pattern.search(text)
    assert fallback.sub("{id}", "/users/42") == "/{id}"


def test_a_lone_surrogate_in_a_path_is_matched_around_never_an_error():
    path = "/a\udcff"  # a surrogate escape a server may pass through
    assert compile_pattern("^/a").search(path) is True
    assert compile_pattern("x$").search(path) is None


def test_a_pattern_copies_and_pickles_as_itself():
    """Capture windows holding one are copied (dataclasses.asdict) and sent between
    processes."""
    import copy
    import pickle

    pattern = compile_pattern("^/orders")
    assert copy.deepcopy(pattern) is pattern and copy.copy(pattern) is pattern
    again = pickle.loads(pickle.dumps(pattern))
    assert again.pattern == "^/orders" and again.search("/orders/1") is True
