"""Typed asyncio access to the Triton inference tier."""

from trinetra.inference.client import VisionClient
from trinetra.inference.errors import (
    InferenceError,
    InferenceTimeoutError,
    InferenceUnavailableError,
    InvalidInputError,
)
from trinetra.inference.settings import TritonSettings
from trinetra.inference.tensors import PipelineInput, PipelineOutput

__all__ = [
    "InferenceError",
    "InferenceTimeoutError",
    "InferenceUnavailableError",
    "InvalidInputError",
    "PipelineInput",
    "PipelineOutput",
    "TritonSettings",
    "VisionClient",
]
