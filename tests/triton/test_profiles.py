"""The CPU profiles: how one is chosen, that every model has each, that the OpenVINO
backend honours batching, and the accuracy gates (issue 13), with looser bounds than
the benchmark's: the default (OpenVINO) profile agrees with onnxruntime FP32.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from google.protobuf import text_format  # type: ignore[import-untyped]  # no stubs installed
from tritonclient.grpc import aio as grpcclient
from tritonclient.grpc import model_config_pb2

from devservices.paths import MODEL_REPOSITORY
from devservices.ports import free_port
from perf.bench_cpu_profiles import (
    Found,
    InProcessPipeline,
    OnnxRuntime,
    box_agreement,
    embedding_cosines,
    found_of,
    match_boxes,
    person_agreement,
)
from tests.support.media import media_bytes, video_frame
from tests.support.triton_server import LAUNCHER, LocalTriton
from trinetra.inference import TritonSettings, VisionClient

INNER_MODELS = ("person_detector", "face_detector", "face_embedder")
PROFILE_VARIABLE = "TRINETRA_TRITON_PROFILE"
# Looser than the benchmark's gates (F1 0.97, cosine 0.99) on fewer frames.
TEST_PERSON_F1 = 0.95
TEST_EMBEDDING_COSINE = 0.98


def _config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _signature(config: model_config_pb2.ModelConfig) -> list[tuple[str, int, list[int]]]:
    tensors = [*config.input, *config.output]
    return [(t.name, t.data_type, list(t.dims)) for t in tensors]


def _launch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    ports = [str(free_port()) for _ in range(3)]
    command = [sys.executable, str(LAUNCHER), "--workdir", str(tmp_path / "work")]
    command += ["--grpc-port", ports[0], "--http-port", ports[1], "--metrics-port", ports[2]]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=150, check=False
    )


def _only(model: str, repository: Path) -> list[str]:
    return ["--model-repository", str(repository), "--model", model]


# ---------------------------------------------------------------- choosing a profile


@pytest.mark.parametrize("model", INNER_MODELS)
def test_every_model_has_both_cpu_profiles_and_the_openvino_backend_one(model: str) -> None:
    folder = MODEL_REPOSITORY / model
    onnxruntime = _config(folder / "configs" / "cpu.pbtxt")
    openvino = _config(folder / "configs" / "openvino.pbtxt")
    official = _config(folder / "configs" / "openvino-backend.pbtxt")
    assert onnxruntime.backend == "onnxruntime_cpu"
    assert openvino.backend == "openvino_cpu"
    assert official.backend == "openvino"
    assert official.default_model_filename == "model.onnx"
    # What a caller sees does not depend on the profile.
    for profile in (openvino, official):
        assert _signature(profile) == _signature(onnxruntime)
        assert profile.max_batch_size == onnxruntime.max_batch_size


def test_a_profile_some_model_lacks_is_refused_before_triton_starts(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    shutil.copytree(
        MODEL_REPOSITORY / "face_embedder",
        repo / "face_embedder",
        ignore=shutil.ignore_patterns("*.onnx", "openvino.pbtxt"),
    )
    result = _launch(tmp_path, *_only("face_embedder", repo), "--model-config-name", "openvino")
    assert result.returncode == 2
    assert "READY" not in result.stdout
    assert "profile 'openvino'" in result.stderr
    assert "face_embedder" in result.stderr
    assert not (tmp_path / "work").exists()  # refused before any server work


def test_the_profile_variable_reaches_the_launcher(tmp_path: Path) -> None:
    # A profile no model has, chosen only by the variable: the launcher names it.
    result = subprocess.run(
        [sys.executable, str(LAUNCHER), "--model", "face_embedder", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, PROFILE_VARIABLE: "no-such-profile"},
    )
    assert result.returncode == 2
    assert "profile 'no-such-profile'" in result.stderr


def test_local_triton_passes_its_profile_and_otherwise_leaves_the_default() -> None:
    named = LocalTriton(profile="cpu")._command()
    assert named[named.index("--model-config-name") + 1] == "cpu"
    assert "--model-config-name" not in LocalTriton()._command()


async def test_the_tests_and_the_demo_serve_openvino_by_default(
    triton_server: LocalTriton,
) -> None:
    if os.environ.get(PROFILE_VARIABLE):
        pytest.skip(f"{PROFILE_VARIABLE} chose the profile of this run")
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    try:
        for model in INNER_MODELS:
            served = await client.get_model_config(model, as_json=True)
            assert served["config"]["backend"] == "openvino_cpu", model
    finally:
        await client.close()


# ------------------------------------------------------------ the OpenVINO backend


@pytest.fixture
async def client(triton_server: LocalTriton) -> AsyncIterator[VisionClient]:
    async with VisionClient(TritonSettings(url=triton_server.grpc_url)) as c:
        await c.wait_ready()
        yield c


async def test_batched_and_concurrent_requests_get_their_own_results(
    client: VisionClient,
) -> None:
    rng = np.random.default_rng(7)
    crops = rng.uniform(-1, 1, (6, 3, 112, 112)).astype(np.float32)
    singles = [
        (await client.infer("face_embedder", {"input.1": crops[i : i + 1]}, ["516"]))["516"]
        for i in range(len(crops))
    ]
    batched = (await client.infer("face_embedder", {"input.1": crops}, ["516"]))["516"]
    assert batched.shape == (6, 512)
    np.testing.assert_allclose(batched, np.concatenate(singles), rtol=1e-5, atol=1e-6)
    # Concurrent requests are batched by Triton: each still gets its own rows back.
    answers = await asyncio.gather(
        *(client.infer("face_embedder", {"input.1": crops[i : i + 2]}, ["516"]) for i in (0, 2, 4))
    )
    for i, answer in zip((0, 2, 4), answers, strict=True):
        np.testing.assert_allclose(answer["516"], batched[i : i + 2], rtol=1e-5, atol=1e-6)


def test_a_config_tensor_the_graph_lacks_fails_the_load(tmp_path: Path) -> None:
    model = tmp_path / "models" / "face_embedder"
    (model / "configs").mkdir(parents=True)
    (model / "1").mkdir()
    (model / "1" / "model.onnx").symlink_to(MODEL_REPOSITORY / "face_embedder/1/model.onnx")
    shutil.copy(MODEL_REPOSITORY / "face_embedder" / "config.pbtxt", model / "config.pbtxt")
    profile = (MODEL_REPOSITORY / "face_embedder" / "configs" / "openvino.pbtxt").read_text()
    (model / "configs" / "openvino.pbtxt").write_text(profile.replace('"516"', '"517"'))
    result = _launch(
        tmp_path, *_only("face_embedder", tmp_path / "models"), "--model-config-name", "openvino"
    )
    assert result.returncode == 2, result.stdout
    assert "READY" not in result.stdout
    assert "517" in result.stderr


# --------------------------------------------------------------- the accuracy gates


def _box(x: float, y: float, size: float = 10.0) -> list[float]:
    return [x, y, x + size, y + size]


def test_boxes_agree_one_to_one_at_iou_half() -> None:
    reference = np.array([_box(0, 0), _box(100, 100)], np.float32)
    # One box shifted by a third of its size (IoU 0.5), one by half (IoU 1/3), one extra.
    candidate = np.array([_box(10 / 3, 0), _box(105, 100), _box(0, 0)], np.float32)
    assert match_boxes(reference, candidate, 0.5) == [(0, 2)]
    agreement = box_agreement([reference], [candidate])
    assert (agreement.matched, agreement.reference, agreement.candidate) == (1, 2, 3)
    assert agreement.f1 == pytest.approx(2 / 5)
    assert box_agreement([np.zeros((0, 4), np.float32)], [np.zeros((0, 4), np.float32)]).f1 == 1


def test_embeddings_are_compared_face_by_face() -> None:
    def found(boxes: list[list[float]], embeddings: list[list[float]]) -> Found:
        vectors = np.array(embeddings, np.float32)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        no_persons = np.zeros((0, 4), np.float32)
        return Found(no_persons, np.zeros(0, np.float32), np.array(boxes, np.float32), unit)

    reference = found([_box(0, 0), _box(50, 50)], [[1, 0], [0, 1]])
    # The same faces listed in the other order; the second embedding turned by 45 degrees.
    candidate = found([_box(50, 50), _box(0, 0)], [[1, 1], [1, 0]])
    np.testing.assert_allclose(
        sorted(embedding_cosines([reference], [candidate])), [np.sqrt(0.5), 1.0], rtol=1e-6
    )


def _gate_frames() -> list[bytes]:
    frames = [video_frame("vtest.avi", index) for index in range(5, 400, 40)]
    encoded = [cv2.imencode(".jpg", frame)[1].tobytes() for frame in frames]
    return [*encoded, *(media_bytes(name) for name in ("bus.jpg", "t1.jpg", "players.jpg"))]


async def test_the_served_profile_agrees_with_onnxruntime_fp32(client: VisionClient) -> None:
    frames = _gate_frames()
    reference = [Found.of(out) for out in map(InProcessPipeline(OnnxRuntime()), frames)]
    served = [found_of(await client.analyze(frame)) for frame in frames]
    persons = person_agreement(reference, served)
    assert persons.reference >= 30  # enough people for the F1 to mean something
    assert persons.f1 >= TEST_PERSON_F1, persons
    cosines = embedding_cosines(reference, served)
    assert len(cosines) >= 20  # t1.jpg and players.jpg alone hold about 28 faces
    assert float(cosines.min()) >= TEST_EMBEDDING_COSINE, sorted(cosines)[:5]
