"""How the orchestrator reaches Triton: one endpoint (`url`) or several (`endpoints`)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from trinetra.settings import ConfigModel

# Bounds on a hand-written list: a store node talks to a handful of servers.
MAX_ENDPOINTS = 16


class TritonEndpoint(ConfigModel):
    """One Triton server of a pool (`TRINETRA_TRITON__ENDPOINTS`)."""

    url: str = Field(..., min_length=1, max_length=253, description="gRPC endpoint, host:port.")
    priority: int = Field(
        0,
        ge=0,
        le=9,
        description=(
            "Tier: requests go to the healthy endpoints of the lowest tier, higher tiers "
            "only while none of those is healthy (e.g. 0 for the GPU servers, 1 for a CPU "
            "fallback)."
        ),
    )
    call_timeout_s: float | None = Field(
        None,
        gt=0,
        description=(
            "This endpoint's deadline of one call; unset: the section's call_timeout_s "
            "(e.g. 5 s for a GPU server, 10 s for its CPU fallback)."
        ),
    )


class TritonSettings(ConfigModel):
    """A section of a process's settings (`TRINETRA_TRITON__URL`, ...)."""

    url: str = Field(
        "127.0.0.1:8001",
        description="Triton gRPC endpoint, host:port; ignored when `endpoints` is set.",
    )
    endpoints: list[TritonEndpoint] = Field(
        default_factory=list,
        max_length=MAX_ENDPOINTS,
        description=(
            "Several Triton servers with health-based failover and load spreading, e.g. "
            '["10.0.0.7:8001", "10.0.0.8:8001"] or [{"url": ..., "priority": 1}]; '
            "empty: the one server at `url`."
        ),
    )
    pipeline_model: str = Field(
        "vision_pipeline", description="The model that turns one frame into persons and faces."
    )
    model_versions: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Pinned model versions, e.g. {person_detector: 2}; a model not named here uses "
            "the newest loaded version. Applies to vision_pipeline's inner models too."
        ),
    )
    call_timeout_s: float = Field(5.0, gt=0, description="Deadline of one inference call.")
    retries: int = Field(
        5, ge=0, description="Retries when the server is unreachable or not ready."
    )
    backoff_initial_s: float = Field(
        0.2, gt=0, description="Upper bound of the first retry delay (full jitter), seconds."
    )
    backoff_max_s: float = Field(5.0, gt=0, description="Cap on any retry delay, seconds.")
    health_interval_s: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How often each endpoint's server and pipeline model readiness is checked.",
    )
    health_timeout_s: float = Field(
        2.0, gt=0, le=60, description="Deadline of one health check call, seconds."
    )
    degraded_cooldown_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description=(
            "How long an endpoint that timed out or failed with a server error is left "
            "out (degraded) before a passing health check may bring it back, seconds."
        ),
    )

    @field_validator("endpoints", mode="before")
    @classmethod
    def _plain_urls(cls, value: Any) -> Any:
        # A list of "host:port" strings is the common case; each becomes {"url": ...}.
        if isinstance(value, list | tuple):
            return [{"url": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _ordered_backoff(self) -> Self:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self

    @model_validator(mode="after")
    def _one_way_to_name_servers(self) -> Self:
        if self.endpoints and "url" in self.model_fields_set:
            raise ValueError("set triton.url or triton.endpoints, not both")
        urls = [endpoint.url for endpoint in self.endpoints]
        repeated = sorted({url for url in urls if urls.count(url) > 1})
        if repeated:
            raise ValueError(f"triton.endpoints lists {', '.join(repeated)} more than once")
        return self

    @property
    def pool(self) -> list[TritonEndpoint]:
        """The servers this client uses: `endpoints`, or the one at `url`."""
        return list(self.endpoints) or [TritonEndpoint(url=self.url)]
