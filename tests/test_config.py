import dataclasses

import pytest

from linesman.config import ConfigError, Settings, parse_settings
from linesman.patterns import LinearPattern


def test_defaults_when_nothing_is_given():
    settings = parse_settings({})
    assert settings == Settings()
    assert settings.profiler_path == "/__profiler__"
    assert settings.enabled is True
    assert settings.sample_rate == 1.0
    assert settings.max_sessions is None


def test_strings_become_typed_values():
    settings = parse_settings(
        {
            "profiler_path": "/_prof/",
            "enabled": "off",
            "sample_rate": "0.25",
            "chart_packages": "myapp, sqlalchemy  mako",
            "include_paths": "^/api ^/admin",
            "exclude_paths": r"\.css$",
            "min_duration": "250ms",
            "max_sessions": "500",
            "response_header": "no",
            "queue_size": "10",
            "flush_timeout": "2s",
        }
    )
    assert settings.profiler_path == "/_prof"
    assert settings.enabled is False
    assert settings.sample_rate == 0.25
    assert settings.chart_packages == ("myapp", "sqlalchemy", "mako")
    assert [p.pattern for p in settings.include_paths] == ["^/api", "^/admin"]
    assert settings.exclude_paths[0].search("/x/site.css")
    assert settings.min_duration == 0.25
    assert settings.max_sessions == 500
    assert settings.response_header is False
    assert settings.queue_size == 10
    assert settings.flush_timeout == 2.0


def test_unknown_names_are_left_for_the_backend():
    settings = parse_settings({"filename": "/tmp/x.db", "timeout": "3"})
    assert settings.backend_options == {"filename": "/tmp/x.db", "timeout": "3"}


@pytest.mark.parametrize(
    "name, value",
    [
        ("enabled", "ture"),
        ("enabled", ""),
        ("response_header", "maybe"),
        ("sample_rate", "1.5"),
        ("sample_rate", "-0.1"),
        ("sample_rate", "nan"),
        ("sample_rate", "half"),
        ("min_duration", "-1"),
        ("min_duration", "5 minutes"),
        ("min_duration", "inf"),
        ("max_sessions", "-3"),
        ("max_sessions", "ten"),
        ("max_sessions", "1.5"),
        ("queue_size", "0"),
        ("include_paths", "(unclosed"),
        ("profiler_path", "/"),
        ("profiler_path", "/a b"),
        ("backend", "linesman.backends.sqlite.SqliteBackend"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_option_and_value(name, value):
    with pytest.raises(ConfigError) as caught:
        parse_settings({name: value})
    message = str(caught.value)
    assert f"linesman option {name} = {value!r}" in message


def test_settings_are_frozen():
    settings = parse_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.enabled = False  # type: ignore[misc]


def test_empty_or_zero_max_sessions_means_no_limit():
    assert parse_settings({"max_sessions": ""}).max_sessions is None
    assert parse_settings({"max_sessions": "0"}).max_sessions is None


def test_patterns_accept_regex_syntax_with_commas():
    settings = parse_settings({"include_paths": r"^/v[0-9]{1,3}/"})
    assert settings.include_paths[0].search("/v12/items")
    assert not settings.include_paths[0].search("/v1234/items")
    assert isinstance(settings.include_paths[0], LinearPattern)  # RE2: linear-time
