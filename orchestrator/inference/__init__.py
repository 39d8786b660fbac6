"""Typed asyncio access to the Triton inference tier."""

from orchestrator.inference.client import VisionClient
from orchestrator.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InferenceUnavailableError,
    InvalidInputError,
)
from orchestrator.inference.settings import TritonSettings

__all__ = [
    "InferenceError",
    "InferenceTimeoutError",
    "InferenceUnavailableError",
    "InvalidInputError",
    "TritonSettings",
    "VisionClient",
]
