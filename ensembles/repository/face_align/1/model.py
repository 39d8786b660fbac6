"""face_align: the frame plus each face's 5 landmarks -> 112x112 crops aligned to the
ArcFace template by a similarity transform, normalized for the embedder.

Tensor names and data types are the config's (config.pbtxt): the model fails to load
unless the config declares exactly the tensors it reads and writes, and it sends each
output in the data type the config gives it.
"""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.align import align_faces
from ensembles.ops.image import FrameError
from ensembles.triton_io import (
    ENCODED_INPUT,
    RAW_INPUT,
    declared_tensors,
    error_response,
    pipeline_settings,
    request_frame,
    required_input,
    tensors_response,
)

FACE_LANDMARKS, FACE_CROPS = "FACE_LANDMARKS", "FACE_CROPS"


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.settings = pipeline_settings(config)
        declared_tensors(config, "input", (ENCODED_INPUT, RAW_INPUT, FACE_LANDMARKS))
        self.crops_dtype = declared_tensors(config, "output", (FACE_CROPS,))[FACE_CROPS]

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                frame = request_frame(request, self.settings.max_pixels)
            except FrameError as error:
                responses.append(error_response(str(error)))
                continue
            landmarks = required_input(request, FACE_LANDMARKS)
            crops = align_faces(frame, landmarks[0])[None].astype(self.crops_dtype, copy=False)
            responses.append(tensors_response({FACE_CROPS: crops}))
        return responses
