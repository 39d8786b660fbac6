"""`openvino_cpu`: a Python-based Triton backend that runs a model version's ONNX file
through OpenVINO on the CPU.

The pip-installed tritonserver ships only the python backend, so this stands in for the
`openvino` backend of NVIDIA's image (configs/openvino-backend.pbtxt uses that one). Like
`onnxruntime_cpu`, one copy serves every model and numbered version (selected by
`backend: "openvino_cpu"` in a model's configs/openvino.pbtxt): a new version is only a
new `<version>/model.onnx`, or an OpenVINO IR `<version>/model.xml` (an INT8 version).
Tensor names and data types are the model config's: inputs are cast to the config's
types, outputs are sent in them, and a config tensor the graph lacks fails the load.

Why it runs one sample per infer request: on few cores OpenVINO's throughput comes from
streams (independent executors, each on its own cores), and a stream runs one request at
a time. All requests handed to one execute() are concatenated, then each sample of that
batch goes to the next idle infer request of an AsyncInferQueue, so every stream works
on the batch at once. For YOLO11n on 2 cores that gave 24 frames/s, against 9-18 for one
batched request of 1-8 frames on a dynamic-batch model (same run, a loaded machine).

Config `parameters` (the official openvino backend's names, so the two profiles read
alike): PERFORMANCE_HINT (THROUGHPUT by default), NUM_STREAMS and INFERENCE_NUM_THREADS
(OpenVINO's choice for the hint when unset), INFERENCE_PRECISION (f32 or bf16; unset:
the CPU's default, bf16 where the CPU has it).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import openvino as ov  # type: ignore[import-untyped]  # no type information shipped
import triton_python_backend_utils as pb_utils

Array = np.ndarray[Any, Any]


# Config parameter -> OpenVINO property; OpenVINO itself refuses a bad value at load.
_PROPERTIES = {
    "PERFORMANCE_HINT": "PERFORMANCE_HINT",
    "NUM_STREAMS": "NUM_STREAMS",
    "INFERENCE_NUM_THREADS": "INFERENCE_NUM_THREADS",
    "INFERENCE_PRECISION": "INFERENCE_PRECISION_HINT",
}


def _compile_properties(parameters: dict[str, str]) -> dict[str, str]:
    properties = {"PERFORMANCE_HINT": "THROUGHPUT"}
    for parameter, name in _PROPERTIES.items():
        if parameters.get(parameter):
            properties[name] = parameters[parameter]
    return properties


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        folder = os.path.join(args["model_repository"], args["model_version"])
        # An OpenVINO IR (model.xml + .bin, what perf/quantize_int8.py writes for an INT8
        # version) is taken where a version has one; else the config's file, model.onnx.
        filename = config.get("default_model_filename") or (
            "model.xml" if os.path.exists(os.path.join(folder, "model.xml")) else "model.onnx"
        )
        self.path = os.path.join(folder, filename)
        if not os.path.exists(self.path):
            raise pb_utils.TritonModelException(
                f"{config['name']} version {args['model_version']}: {self.path} does not exist "
                "(run `make models` to materialize the default weights)"
            )
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.core = ov.Core()
        self.graph = self.core.read_model(self.path)
        self.properties = _compile_properties(parameters)
        self.inputs = [
            (i["name"], pb_utils.triton_string_to_numpy(i["data_type"])) for i in config["input"]
        ]
        self.outputs = [
            (o["name"], pb_utils.triton_string_to_numpy(o["data_type"])) for o in config["output"]
        ]
        for kind, declared, ports in (
            ("inputs", self.inputs, self.graph.inputs),
            ("outputs", self.outputs, self.graph.outputs),
        ):
            known = {name for port in ports for name in port.get_names()}
            missing = [name for name, _ in declared if name not in known]
            if missing:
                raise pb_utils.TritonModelException(
                    f"{self.path}: config {kind} {missing} are not in the graph ({sorted(known)})"
                )
        # One compiled model per sample shape. A config with fixed dims has one shape,
        # compiled now so that a model OpenVINO cannot compile fails the load; a dim of -1
        # (a detector taking other input sizes) compiles each new shape on first use.
        self.queues: dict[tuple[tuple[int, ...], ...], ov.AsyncInferQueue] = {}
        dims = [tuple(int(d) for d in i["dims"]) for i in config["input"]]
        if all(d > 0 for shape in dims for d in shape):
            self._queue(tuple(dims))

    def _queue(self, shapes: tuple[tuple[int, ...], ...]) -> ov.AsyncInferQueue:
        """The infer queue of the model compiled for one sample of these input shapes."""
        if shapes not in self.queues:
            graph = self.graph.clone()
            graph.reshape(
                {name: [1, *shape] for (name, _), shape in zip(self.inputs, shapes, strict=True)}
            )
            compiled = self.core.compile_model(graph, "CPU", self.properties)
            jobs = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
            self.queues[shapes] = ov.AsyncInferQueue(compiled, jobs)
        return self.queues[shapes]

    def _run(self, batched: list[Array]) -> list[Array]:
        """Every sample of the batch through the queue at once; outputs in config order."""
        count = len(batched[0])
        queue = self._queue(tuple(tuple(value.shape[1:]) for value in batched))
        results: list[list[Array]] = [[] for _ in range(count)]

        def finished(request: ov.InferRequest, index: int) -> None:
            # Copies: the request's output memory is reused by its next sample.
            results[index] = [np.array(request.get_tensor(name).data) for name, _ in self.outputs]

        queue.set_callback(finished)
        for index in range(count):
            queue.start_async(
                {
                    name: value[index : index + 1]
                    for (name, _), value in zip(self.inputs, batched, strict=True)
                },
                index,
            )
        queue.wait_all()
        return [
            np.concatenate([sample[k] for sample in results]).astype(dtype, copy=False)
            for k, (_, dtype) in enumerate(self.outputs)
        ]

    def execute(self, requests: list[Any]) -> list[Any]:
        feeds: dict[str, list[Array]] = {name: [] for name, _ in self.inputs}
        sizes = []
        for request in requests:
            for name, _ in self.inputs:
                feeds[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            sizes.append(len(feeds[self.inputs[0][0]][-1]))
        batched = [
            np.ascontiguousarray(np.concatenate(parts).astype(dtype, copy=False))
            for (_, dtype), parts in zip(self.inputs, feeds.values(), strict=True)
        ]
        typed = self._run(batched)
        responses, start = [], 0
        for size in sizes:
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(value[start : start + size]))
                for (name, _), value in zip(self.outputs, typed, strict=True)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses
