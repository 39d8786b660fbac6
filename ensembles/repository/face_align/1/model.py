"""face_align: the frame plus each face's 5 landmarks -> 112x112 crops aligned to the
ArcFace template by a similarity transform, normalized for the embedder."""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.align import align_faces
from ensembles.ops.image import FrameError
from ensembles.triton_io import (
    error_response,
    pipeline_settings,
    request_frame,
    required_input,
    tensors_response,
)


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        self.settings = pipeline_settings(json.loads(args["model_config"]))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                frame = request_frame(request, self.settings.max_pixels)
            except FrameError as error:
                responses.append(error_response(str(error)))
                continue
            landmarks = required_input(request, "FACE_LANDMARKS")
            responses.append(
                tensors_response({"FACE_CROPS": align_faces(frame, landmarks[0])[None]})
            )
        return responses
