"""`onnxruntime_cpu`: a Python-based Triton backend that runs a model version's ONNX file
through onnxruntime on the CPU.

The pip-installed tritonserver ships only the python backend, so this stands in for the
onnxruntime backend of the GPU image. Being a *backend* (selected by `backend:
"onnxruntime_cpu"` in a model's configs/cpu.pbtxt), one copy of this file serves every
model and every numbered version: a new version is only a new `<version>/model.onnx`.
All requests handed to one execute() call are concatenated into one onnxruntime run.
Tensor names and data types are the model config's: inputs are cast to the config's data
types, outputs are sent in them, and a config tensor the ONNX graph lacks fails the load.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        filename = config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        if not os.path.exists(path):
            raise pb_utils.TritonModelException(
                f"{config['name']} version {args['model_version']}: {path} does not exist "
                "(run `make models` to materialize the default weights)"
            )
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the embedder's ONNX declares batch 1 and warns
        options.intra_op_num_threads = int(parameters.get("intra_op_threads", "0"))
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [
            (i["name"], pb_utils.triton_string_to_numpy(i["data_type"])) for i in config["input"]
        ]
        self.outputs = [
            (o["name"], pb_utils.triton_string_to_numpy(o["data_type"])) for o in config["output"]
        ]
        for kind, declared, graph in (
            ("inputs", self.inputs, self.session.get_inputs()),
            ("outputs", self.outputs, self.session.get_outputs()),
        ):
            known = {tensor.name for tensor in graph}
            missing = [name for name, _ in declared if name not in known]
            if missing:
                raise pb_utils.TritonModelException(
                    f"{path}: config {kind} {missing} are not in the ONNX graph ({sorted(known)})"
                )

    def execute(self, requests: list[Any]) -> list[Any]:
        feeds: dict[str, list[np.ndarray[Any, Any]]] = {name: [] for name, _ in self.inputs}
        sizes = []
        for request in requests:
            for name, _ in self.inputs:
                feeds[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            sizes.append(len(feeds[self.inputs[0][0]][-1]))
        batched = {
            name: np.concatenate(parts).astype(dtype, copy=False)
            for (name, dtype), parts in zip(self.inputs, feeds.values(), strict=True)
        }
        results = self.session.run([name for name, _ in self.outputs], batched)
        typed = [
            value.astype(dtype, copy=False)
            for (_, dtype), value in zip(self.outputs, results, strict=True)
        ]
        responses, start = [], 0
        for size in sizes:
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(value[start : start + size]))
                for (name, _), value in zip(self.outputs, typed, strict=True)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses
