"""face_postprocess: SCRFD outputs -> face boxes, scores and 5 landmarks in frame pixels."""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.image import Letterbox
from ensembles.ops.scrfd import OUTPUT_NAMES, decode_faces
from ensembles.triton_io import pipeline_settings, required_input, tensors_response


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        self.settings = pipeline_settings(json.loads(args["model_config"]))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        s = self.settings
        for request in requests:
            outputs = {name: required_input(request, name) for name in OUTPUT_NAMES}
            boxes = required_input(request, "LETTERBOX")
            xyxy, scores, landmarks = decode_faces(
                outputs,
                0,
                s.input_size,
                Letterbox.from_array(boxes[0]),
                s.face_min_score,
                s.face_iou,
            )
            responses.append(
                tensors_response(
                    {
                        "FACE_BOXES": xyxy[None],
                        "FACE_SCORES": scores[None],
                        "FACE_LANDMARKS": landmarks[None],
                    }
                )
            )
        return responses
