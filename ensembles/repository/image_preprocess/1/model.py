"""image_preprocess: decode (JPEG/PNG bytes or raw BGR), letterbox to the detectors' square
input, normalize once per detector. LETTERBOX carries how to map boxes back."""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.image import FrameError
from ensembles.ops.pipeline import prepare
from ensembles.triton_io import error_response, pipeline_settings, request_frame, tensors_response


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        self.settings = pipeline_settings(json.loads(args["model_config"]))

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        good, frames = [], []
        for index, request in enumerate(requests):
            try:
                frames.append(request_frame(request, self.settings.max_pixels))
                good.append(index)
            except FrameError as error:
                responses[index] = error_response(str(error))
        if frames:
            batch = prepare(frames, self.settings)
            for row, index in enumerate(good):
                responses[index] = tensors_response(
                    {
                        "PERSON_INPUT": batch.person_input[row : row + 1],
                        "FACE_INPUT": batch.face_input[row : row + 1],
                        "LETTERBOX": batch.boxes[row].to_array()[None],
                    }
                )
        return responses
