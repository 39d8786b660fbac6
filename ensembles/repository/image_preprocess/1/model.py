"""image_preprocess: decode (JPEG/PNG bytes or raw BGR), letterbox to the detectors' square
input, normalize once per detector. LETTERBOX carries how to map boxes back.

Tensor names and data types are the config's (config.pbtxt): the model fails to load
unless the config declares exactly the tensors it reads and writes, and it sends each
output in the data type the config gives it.
"""

from __future__ import annotations

import json
from typing import Any

from ensembles.ops.image import FrameError
from ensembles.ops.pipeline import prepare
from ensembles.triton_io import (
    ENCODED_INPUT,
    RAW_INPUT,
    declared_tensors,
    error_response,
    pipeline_settings,
    request_frame,
    tensors_response,
)

PERSON_INPUT, FACE_INPUT, LETTERBOX = "PERSON_INPUT", "FACE_INPUT", "LETTERBOX"


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.settings = pipeline_settings(config)
        declared_tensors(config, "input", (ENCODED_INPUT, RAW_INPUT))
        self.outputs = declared_tensors(config, "output", (PERSON_INPUT, FACE_INPUT, LETTERBOX))

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
                produced = {
                    PERSON_INPUT: batch.person_input[row : row + 1],
                    FACE_INPUT: batch.face_input[row : row + 1],
                    LETTERBOX: batch.boxes[row].to_array()[None],
                }
                responses[index] = tensors_response(
                    {
                        name: produced[name].astype(dtype, copy=False)
                        for name, dtype in self.outputs.items()
                    }
                )
        return responses
