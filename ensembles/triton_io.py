"""Request/response plumbing shared by the python-backend models in ensembles/repository/.

Imported only inside the Triton python stub, where `triton_python_backend_utils` exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from ensembles.ops.image import FrameError, Image, check_raw_frame, decode_image
from ensembles.ops.pipeline import PipelineSettings

# A frame arrives as exactly one of these (both optional in the model configs).
ENCODED_INPUT = "IMAGE_ENCODED"  # JPEG/PNG bytes, UINT8 [1, N]
RAW_INPUT = "IMAGE_RAW"  # BGR pixels, UINT8 [1, H, W, 3]


def declared_tensors(config: dict[str, Any], kind: str, used: Iterable[str]) -> dict[str, Any]:
    """The config's `kind` ("input"/"output") tensors as name -> numpy dtype; the load
    fails unless they are exactly the tensors `used` by this model."""
    declared = {t["name"]: pb_utils.triton_string_to_numpy(t["data_type"]) for t in config[kind]}
    if set(declared) != set(used):
        raise pb_utils.TritonModelException(
            f"{config['name']}: config {kind}s {sorted(declared)}, the model uses {sorted(used)}"
        )
    return declared


def config_parameters(model_config: dict[str, Any]) -> dict[str, str]:
    return {k: v["string_value"] for k, v in model_config.get("parameters", {}).items()}


def pipeline_settings(model_config: dict[str, Any]) -> PipelineSettings:
    """Settings from the config's `parameters`, falling back to the defaults."""
    params = config_parameters(model_config)
    defaults = PipelineSettings()
    return PipelineSettings(
        input_size=int(params.get("input_size", defaults.input_size)),
        person_min_score=float(params.get("person_min_score", defaults.person_min_score)),
        person_iou=float(params.get("person_iou", defaults.person_iou)),
        face_min_score=float(params.get("face_min_score", defaults.face_min_score)),
        face_iou=float(params.get("face_iou", defaults.face_iou)),
        max_pixels=int(params.get("max_pixels", defaults.max_pixels)),
    )


def input_array(request: Any, name: str) -> np.ndarray[Any, Any] | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else tensor.as_numpy()


def required_input(request: Any, name: str) -> np.ndarray[Any, Any]:
    """An input the model config declares required (Triton has already enforced it)."""
    value = input_array(request, name)
    if value is None:
        raise ValueError(f"missing input {name}")
    return value


def request_frame(request: Any, max_pixels: int) -> Image:
    """The request's frame as BGR uint8; FrameError with the reason if it is unusable."""
    encoded, raw = input_array(request, ENCODED_INPUT), input_array(request, RAW_INPUT)
    if (encoded is None) == (raw is None):
        raise FrameError(f"send exactly one of {ENCODED_INPUT} or {RAW_INPUT}")
    if encoded is not None:
        return decode_image(encoded.reshape(-1).tobytes(), max_pixels)
    assert raw is not None
    return check_raw_frame(raw[0] if raw.ndim == 4 else raw, max_pixels)


def request_parameters(request: Any) -> dict[str, Any]:
    raw = request.parameters()
    return dict(json.loads(raw)) if raw else {}


def error_response(message: str) -> Any:
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))


def tensors_response(tensors: dict[str, np.ndarray[Any, Any]]) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[
            pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in tensors.items()
        ]
    )
