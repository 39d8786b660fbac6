"""How the orchestrator reaches Triton."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from trinetra.settings import ConfigModel


class TritonSettings(ConfigModel):
    """A section of a process's settings (`TRINETRA_TRITON__URL`, ...)."""

    url: str = Field("127.0.0.1:8001", description="Triton gRPC endpoint, host:port.")
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

    @model_validator(mode="after")
    def _ordered_backoff(self) -> Self:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self
