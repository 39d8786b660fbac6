"""person_postprocess: YOLOv8-layout head -> person boxes (NMS, class 0) in frame pixels.

Tensor names and data types are the config's (config.pbtxt): the model fails to load
unless the config declares exactly the tensors it reads and writes, and it sends each
output in the data type the config gives it.
"""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.image import Letterbox
from ensembles.ops.yolo import decode_persons
from ensembles.triton_io import (
    declared_tensors,
    pipeline_settings,
    required_input,
    tensors_response,
)

HEAD, LETTERBOX = "HEAD", "LETTERBOX"
PERSON_BOXES, PERSON_SCORES = "PERSON_BOXES", "PERSON_SCORES"


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.settings = pipeline_settings(config)
        declared_tensors(config, "input", (HEAD, LETTERBOX))
        self.outputs = declared_tensors(config, "output", (PERSON_BOXES, PERSON_SCORES))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            heads, boxes = required_input(request, HEAD), required_input(request, LETTERBOX)
            xyxy, scores = decode_persons(
                heads[0],
                Letterbox.from_array(boxes[0]),
                self.settings.person_min_score,
                self.settings.person_iou,
            )
            produced = {PERSON_BOXES: xyxy[None], PERSON_SCORES: scores[None]}
            responses.append(
                tensors_response(
                    {
                        name: produced[name].astype(dtype, copy=False)
                        for name, dtype in self.outputs.items()
                    }
                )
            )
        return responses
