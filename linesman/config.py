"""Start-up configuration: every option the middleware takes, parsed once.

PasteDeploy hands every option over as a string; this module turns them into a
frozen :class:`Settings` before the first request, so a typo is an error at
start-up that names the option, never a surprise at request time. Options that
are not linesman's own are left for the backend's constructor, which the
backends package checks against its signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linesman.model.endpoint import DEFAULT_FOLDS, EndpointRule
from linesman.options import (
    ConfigError,
    to_backend_spec,
    to_bool,
    to_bytes,
    to_fraction,
    to_login_lifetime,
    to_optional_count,
    to_optional_seconds,
    to_patterns,
    to_positive_int,
    to_profiler,
    to_profiler_path,
    to_query_names,
    to_sample_interval,
    to_seconds,
    to_view_budget,
    to_words,
)

__all__ = ["ConfigError", "Settings", "parse_settings", "OPTIONS"]


@dataclass(frozen=True)
class Settings:
    """linesman's own options, typed; see README.rst for each one."""

    profiler_path: str = "/__profiler__"
    profiler: str = "auto"
    sample_interval: float = 0.001
    backend: str = "linesman.backends.sqlite:SqliteBackend"
    chart_packages: tuple[str, ...] = ()
    enabled: bool = True
    sample_rate: float = 1.0
    include_paths: tuple[Any, ...] = ()  # compiled by linesman.patterns
    exclude_paths: tuple[Any, ...] = ()
    min_duration: float = 0.0
    max_sessions: int | None = None
    keep_slowest: int | None = None
    max_age: float | None = None
    response_header: bool = True
    queue_size: int = 1000
    queue_bytes: int = 64 << 20
    flush_timeout: float = 5.0
    endpoint_folds: tuple[Any, ...] = ()
    endpoint_query: tuple[str, ...] = ()  # query parameters whose values name endpoints
    allowed_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    allowed_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    require_token: bool = True
    login_lifetime: float = 12 * 3600.0  # a browser's login, renewed when used past half of it
    read_only: bool = False  # the UI shows profiles and changes nothing
    view_budget: float = 2.0  # seconds a merged profile or comparison reads sessions
    auth_user: str = ""
    auth_password: str = ""
    authorize: str = ""
    backend_options: dict[str, Any] = field(default_factory=dict)

    @property
    def folds(self) -> tuple[Any, ...]:
        """What makes paths one endpoint: ``endpoint_folds``, or the default folds."""
        return self.endpoint_folds or DEFAULT_FOLDS

    @property
    def endpoints(self) -> EndpointRule:
        """What makes requests one endpoint: the folds and ``endpoint_query``."""
        return EndpointRule(self.folds, self.endpoint_query)


# (name, converter): defaults live on Settings, converters here.
OPTIONS: dict[str, Callable[[Any], Any]] = {
    "profiler_path": to_profiler_path,
    "profiler": to_profiler,
    "sample_interval": to_sample_interval,
    "backend": to_backend_spec,
    "chart_packages": to_words,
    "enabled": to_bool,
    "sample_rate": to_fraction,
    "include_paths": to_patterns,
    "exclude_paths": to_patterns,
    "min_duration": to_seconds,
    "max_sessions": to_optional_count,
    "keep_slowest": to_optional_count,
    "max_age": to_optional_seconds,
    "response_header": to_bool,
    "queue_size": to_positive_int,
    "queue_bytes": to_bytes,
    "flush_timeout": to_seconds,
    "endpoint_folds": to_patterns,
    "endpoint_query": to_query_names,
    "allowed_ips": to_words,
    "allowed_hosts": to_words,
    "trusted_proxies": to_words,
    "require_token": to_bool,
    "login_lifetime": to_login_lifetime,
    "read_only": to_bool,
    "view_budget": to_view_budget,
    "auth_user": lambda value: str(value).strip(),
    "auth_password": str,
    "authorize": lambda value: to_backend_spec(value) if str(value).strip() else "",
}


def parse_settings(options: dict[str, Any]) -> Settings:
    """Options as given (strings or values) -> Settings; the rest is the backend's."""
    values: dict[str, Any] = {}
    backend_options: dict[str, Any] = {}
    for name, raw in options.items():
        converter = OPTIONS.get(name)
        if converter is None:
            backend_options[name] = raw
            continue
        try:
            values[name] = converter(raw)
        except ValueError as exc:
            raise ConfigError(f"linesman option {name} = {raw!r}: {exc}") from None
    return Settings(backend_options=backend_options, **values)
