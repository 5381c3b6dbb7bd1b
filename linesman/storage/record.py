"""What a finished request hands to the writer: its raw profile and figures,
turned into a session later, in the writer's thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from linesman.model.rows import splice_out, stacks_from_samples
from linesman.model.session import ProfilingSession
from linesman.profiling.sampling import SampledProfile

__all__ = ["ProfileRecord"]


@dataclass(slots=True, eq=False)  # compared to a sentinel in C: no Python __eq__
class ProfileRecord:
    """A finished request's raw profile and figures, before it is a session."""

    profile: Any  # cProfile.Profile, disabled, or the SampledProfile that ran
    environ: dict
    uuid: str
    timestamp: float
    duration: float
    cpu_time: float
    status: int | None
    response_size: int
    error: str | None
    concurrent: bool
    capture: str | None = None  # the capture window that asked for it
    selected: bool = True  # wanted by the switch and the options too, window or not
    hidden: frozenset = frozenset()  # code of linesman's hooks the app called

    def to_session(self) -> ProfilingSession:
        summary: dict[str, Any] = dict(
            uuid=self.uuid,
            duration=self.duration,
            cpu_time=self.cpu_time,
            status=self.status,
            response_size=self.response_size,
            error=self.error,
            concurrent=self.concurrent,
        )
        if isinstance(self.profile, SampledProfile):
            labels, stacks = stacks_from_samples(self.profile.stacks)
            return ProfilingSession(
                environ=self.environ,
                timestamp=self.timestamp,
                stacks=stacks,
                labels=labels,
                interval=self.profile.interval,
                **summary,
            )
        return ProfilingSession(
            splice_out(self.profile.getstats(), self.hidden),
            self.environ,
            self.timestamp,
            **summary,
        )
