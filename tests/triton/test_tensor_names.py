"""Tensor names agree across every place that declares them: the inner models' configs
(each profile), vision_pipeline's config and its parameters naming the inner tensors, the
ensemble graphs, the SCRFD decoder, FrameOutputs, and the client's declaration
(trinetra.inference.tensors). A python-backend model whose config names a tensor it
does not use fails to load, naming it."""

from __future__ import annotations

import ast
import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format  # type: ignore[import-untyped]  # no stubs installed
from tritonclient.grpc import model_config_pb2

from devservices.paths import ENSEMBLE_REPOSITORY, MODEL_REPOSITORY
from devservices.ports import free_port
from ensembles.ops.pipeline import FrameOutputs
from ensembles.ops.scrfd import OUTPUT_NAMES
from tests.support.triton_server import LAUNCHER
from trinetra.inference.client import PIPELINE_INNER_MODELS as INNER_MODELS
from trinetra.inference.tensors import PipelineInput, PipelineOutput, contract_differences


def _config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _profiles(model: str) -> list[Path]:
    """Every config of an inner model: the production one and each configs/<profile>."""
    folder = MODEL_REPOSITORY / model
    return [folder / "config.pbtxt", *sorted((folder / "configs").glob("*.pbtxt"))]


def _tensors(tensors: object) -> list[tuple[str, str]]:
    """(name, Triton data type as model metadata spells it: FP32, UINT8, ...)."""
    return [
        (t.name, model_config_pb2.DataType.Name(t.data_type).removeprefix("TYPE_"))
        for t in tensors  # type: ignore[attr-defined]
    ]


def _names(tensors: object) -> set[str]:
    return {name for name, _ in _tensors(tensors)}


PIPELINE = _config(ENSEMBLE_REPOSITORY / "vision_pipeline" / "config.pbtxt")
PARAMETERS = {key: value.string_value for key, value in PIPELINE.parameters.items()}


@pytest.mark.parametrize("model", INNER_MODELS)
def test_the_pipeline_parameters_name_tensors_every_profile_declares(model: str) -> None:
    for path in _profiles(model):
        config = _config(path)
        assert PARAMETERS[f"{model}_input"] in _names(config.input), path
        outputs = _names(config.output)
        if model == "face_detector":
            assert outputs == set(OUTPUT_NAMES), path  # what the SCRFD decoder reads
        else:
            assert PARAMETERS[f"{model}_output"] in outputs, path


def test_the_client_names_the_models_the_pipeline_calls() -> None:
    # model.py imports the python backend's module, absent here: read its MODELS instead.
    source = (ENSEMBLE_REPOSITORY / "vision_pipeline" / "1" / "model.py").read_text()
    (models,) = (
        node.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", None) for target in node.targets] == ["MODELS"]
    )
    assert ast.literal_eval(models) == INNER_MODELS


def test_the_pipeline_outputs_are_the_frame_outputs_fields() -> None:
    fields = {field.name.upper() for field in dataclasses.fields(FrameOutputs)}
    assert _names(PIPELINE.output) == fields


def test_the_clients_declaration_matches_the_pipeline_config() -> None:
    assert contract_differences(_tensors(PIPELINE.input), _tensors(PIPELINE.output)) == []
    # Nothing the server sends is unknown to the client either.
    assert _names(PIPELINE.input) == {str(name) for name in PipelineInput}
    assert _names(PIPELINE.output) == {str(name) for name in PipelineOutput}


def test_a_contract_difference_is_named() -> None:
    inputs = _tensors(PIPELINE.input)
    outputs = [(n, "FP16" if n == "FACE_SCORES" else t) for n, t in _tensors(PIPELINE.output)]
    assert contract_differences(inputs, outputs[1:]) == [
        "output PERSON_BOXES is missing",
        "output FACE_SCORES is FP16, expected FP32",
    ]


def _model_config(name: str) -> model_config_pb2.ModelConfig:
    for repository in (ENSEMBLE_REPOSITORY, MODEL_REPOSITORY):
        if (repository / name / "config.pbtxt").exists():
            return _config(repository / name / "config.pbtxt")
    raise AssertionError(f"no model {name}")


@pytest.mark.parametrize("ensemble", ["person_detection", "face_detection"])
def test_ensemble_steps_map_tensors_their_models_declare(ensemble: str) -> None:
    config = _config(ENSEMBLE_REPOSITORY / ensemble / "config.pbtxt")
    for step in config.ensemble_scheduling.step:
        model = _model_config(step.model_name)
        assert set(step.input_map) <= _names(model.input), step.model_name
        assert set(step.output_map) <= _names(model.output), step.model_name


def test_a_model_whose_config_names_an_unused_tensor_fails_to_load(tmp_path: Path) -> None:
    # person_postprocess under another name, its first output renamed in the config only.
    model = tmp_path / "models" / "renamed_postprocess"
    shutil.copytree(ENSEMBLE_REPOSITORY / "person_postprocess", model)
    config = (model / "config.pbtxt").read_text()
    config = config.replace('name: "person_postprocess"', 'name: "renamed_postprocess"')
    (model / "config.pbtxt").write_text(config.replace('"PERSON_BOXES"', '"PERSON_BOXEZ"'))
    result = subprocess.run(
        [
            sys.executable,
            str(LAUNCHER),
            "--model-repository",
            str(tmp_path / "models"),
            "--model",
            "renamed_postprocess",
            "--grpc-port",
            str(free_port()),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--workdir",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout
    assert "READY" not in result.stdout
    assert "PERSON_BOXEZ" in result.stderr
