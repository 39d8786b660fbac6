"""The tensors of `vision_pipeline` as this client knows them: the one declaration of their
names and data types on the client side.

The model's own declaration is its config, ensembles/repository/vision_pipeline/config.pbtxt
(the python model takes names and data types from there). tests/triton checks this module
against that file, and `VisionClient.verify_pipeline()` against a running server's model
metadata, so a renamed or retyped tensor is caught before a frame is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final

__all__ = ["PIPELINE_DATATYPES", "PipelineInput", "PipelineOutput", "contract_differences"]


class PipelineInput(StrEnum):
    """A frame arrives as exactly one of these."""

    IMAGE_ENCODED = "IMAGE_ENCODED"  # JPEG/PNG bytes, [1, N]
    IMAGE_RAW = "IMAGE_RAW"  # BGR pixels, [1, H, W, 3]


class PipelineOutput(StrEnum):
    PERSON_BOXES = "PERSON_BOXES"
    PERSON_SCORES = "PERSON_SCORES"
    FACE_BOXES = "FACE_BOXES"
    FACE_SCORES = "FACE_SCORES"
    FACE_LANDMARKS = "FACE_LANDMARKS"
    FACE_PERSON_INDEX = "FACE_PERSON_INDEX"
    FACE_EMBEDDINGS = "FACE_EMBEDDINGS"


# Triton's data type names, as model metadata reports them.
PIPELINE_DATATYPES: Final[Mapping[str, str]] = {
    PipelineInput.IMAGE_ENCODED: "UINT8",
    PipelineInput.IMAGE_RAW: "UINT8",
    PipelineOutput.PERSON_BOXES: "FP32",
    PipelineOutput.PERSON_SCORES: "FP32",
    PipelineOutput.FACE_BOXES: "FP32",
    PipelineOutput.FACE_SCORES: "FP32",
    PipelineOutput.FACE_LANDMARKS: "FP32",
    PipelineOutput.FACE_PERSON_INDEX: "INT32",
    PipelineOutput.FACE_EMBEDDINGS: "FP32",
}


def contract_differences(
    inputs: Iterable[tuple[str, str]], outputs: Iterable[tuple[str, str]]
) -> list[str]:
    """How a served pipeline's (name, data type) inputs and outputs differ from this
    declaration, one sentence each; empty when they agree. Tensors the server has and
    this client does not use are no difference: a newer pipeline may add outputs."""
    problems: list[str] = []
    for kind, declared, served in (
        ("input", [str(name) for name in PipelineInput], dict(inputs)),
        ("output", [str(name) for name in PipelineOutput], dict(outputs)),
    ):
        for name in declared:
            if name not in served:
                problems.append(f"{kind} {name} is missing")
            elif served[name] != PIPELINE_DATATYPES[name]:
                problems.append(
                    f"{kind} {name} is {served[name]}, expected {PIPELINE_DATATYPES[name]}"
                )
    return problems
