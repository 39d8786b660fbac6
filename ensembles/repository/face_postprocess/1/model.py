"""face_postprocess: SCRFD outputs -> face boxes, scores and 5 landmarks in frame pixels.

Tensor names and data types are the config's (config.pbtxt): the SCRFD tensors are the
config's inputs besides LETTERBOX (the load fails unless they are the ones the decoder
reads), and each output is sent in the data type the config gives it.
"""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.image import Letterbox
from ensembles.ops.scrfd import OUTPUT_NAMES, decode_faces
from ensembles.triton_io import (
    declared_tensors,
    pipeline_settings,
    required_input,
    tensors_response,
)

LETTERBOX = "LETTERBOX"
FACE_BOXES, FACE_SCORES, FACE_LANDMARKS = "FACE_BOXES", "FACE_SCORES", "FACE_LANDMARKS"


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.settings = pipeline_settings(config)
        inputs = declared_tensors(config, "input", (*OUTPUT_NAMES, LETTERBOX))
        self.detector_outputs = [name for name in inputs if name != LETTERBOX]
        self.outputs = declared_tensors(config, "output", (FACE_BOXES, FACE_SCORES, FACE_LANDMARKS))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        s = self.settings
        for request in requests:
            outputs = {name: required_input(request, name) for name in self.detector_outputs}
            boxes = required_input(request, LETTERBOX)
            xyxy, scores, landmarks = decode_faces(
                outputs,
                0,
                s.input_size,
                Letterbox.from_array(boxes[0]),
                s.face_min_score,
                s.face_iou,
            )
            produced = {
                FACE_BOXES: xyxy[None],
                FACE_SCORES: scores[None],
                FACE_LANDMARKS: landmarks[None],
            }
            responses.append(
                tensors_response(
                    {
                        name: produced[name].astype(dtype, copy=False)
                        for name, dtype in self.outputs.items()
                    }
                )
            )
        return responses
