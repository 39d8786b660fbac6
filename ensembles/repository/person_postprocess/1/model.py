"""person_postprocess: YOLOv8-layout head -> person boxes (NMS, class 0) in frame pixels."""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.image import Letterbox
from ensembles.ops.yolo import decode_persons
from ensembles.triton_io import pipeline_settings, required_input, tensors_response


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        self.settings = pipeline_settings(json.loads(args["model_config"]))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            heads, boxes = required_input(request, "HEAD"), required_input(request, "LETTERBOX")
            xyxy, scores = decode_persons(
                heads[0],
                Letterbox.from_array(boxes[0]),
                self.settings.person_min_score,
                self.settings.person_iou,
            )
            responses.append(
                tensors_response({"PERSON_BOXES": xyxy[None], "PERSON_SCORES": scores[None]})
            )
        return responses
