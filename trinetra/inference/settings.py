"""How the orchestrator reaches Triton."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TritonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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
    backoff_initial_s: float = Field(0.2, gt=0, description="First retry delay.")
    backoff_max_s: float = Field(5.0, gt=0, description="Largest retry delay.")
