"""Numbered versions side by side: a caller pinning a version gets that version's results.

Version 2 of person_detector here is version 1's graph with every class score halved
(built with onnx), so which version answered is visible in the output.
"""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from devservices.paths import REPO_ROOT
from ensembles.ops.image import decode_image
from ensembles.ops.pipeline import PipelineSettings, prepare
from tests.support.media import media_bytes
from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings, VisionClient

MODELS = REPO_ROOT / "model_repository"


def halved_scores_model(source: Path, target: Path) -> None:
    model = onnx.load(str(source))
    output = model.graph.output[0]
    raw_name = output.name + "_raw"
    for node in model.graph.node:
        node.output[:] = [raw_name if o == output.name else o for o in node.output]
    scale = np.ones((1, 84, 1), np.float32)
    scale[:, 4:] = 0.5
    model.graph.initializer.append(numpy_helper.from_array(scale, "class_scale"))
    model.graph.node.append(helper.make_node("Mul", [raw_name, "class_scale"], [output.name]))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


@pytest.fixture(scope="module")
def two_version_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    repo = tmp_path_factory.mktemp("model_repository")
    for name in ("face_detector", "face_embedder"):
        (repo / name).symlink_to(MODELS / name)
    detector = repo / "person_detector"
    shutil.copytree(MODELS / "person_detector", detector, ignore=shutil.ignore_patterns("2"))
    (detector / "2").mkdir()
    halved_scores_model(detector / "1" / "model.onnx", detector / "2" / "model.onnx")
    server = LocalTriton(
        workdir=REPO_ROOT / ".cache" / "triton-tests", extra_args=["--model-repository", str(repo)]
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(two_version_server: LocalTriton) -> AsyncIterator[VisionClient]:
    async with VisionClient(TritonSettings(url=two_version_server.grpc_url)) as c:
        await c.wait_ready()
        yield c


async def test_detector_versions_answer_as_pinned(client: VisionClient) -> None:
    batch = prepare([decode_image(media_bytes("bus.jpg"))], PipelineSettings())
    heads = {}
    for version in (1, 2):
        out = await client.infer(
            "person_detector", {"images": batch.person_input}, ["output0"], version=version
        )
        heads[version] = out["output0"]
    np.testing.assert_allclose(heads[2][:, :4], heads[1][:, :4], rtol=1e-5)
    np.testing.assert_allclose(heads[2][:, 4:], heads[1][:, 4:] * 0.5, rtol=1e-5, atol=1e-6)
    # unpinned means the newest version
    latest = await client.infer("person_detector", {"images": batch.person_input}, ["output0"])
    np.testing.assert_array_equal(latest["output0"], heads[2])


async def test_pipeline_forwards_the_pin(two_version_server: LocalTriton) -> None:
    frame = media_bytes("bus.jpg")
    scores = {}
    for version in (1, 2):
        settings = TritonSettings(
            url=two_version_server.grpc_url, model_versions={"person_detector": version}
        )
        async with VisionClient(settings) as client:
            result = await client.analyze(frame)
            # The pinned version, and the newest of every other model of the pipeline.
            assert result.model_versions == {
                "vision_pipeline": "1",
                "person_detector": str(version),
                "face_detector": "1",
                "face_embedder": "1",
            }
            scores[version] = np.sort(result.persons.confidence)[::-1]
    strong_v1 = scores[1][scores[1] >= 0.4]
    np.testing.assert_allclose(scores[2][: len(strong_v1)], strong_v1 * 0.5, rtol=1e-3)
    # Unpinned, the result names the version that ran: the newest.
    async with VisionClient(TritonSettings(url=two_version_server.grpc_url)) as client:
        result = await client.analyze(frame)
    assert result.model_versions["person_detector"] == "2"
    np.testing.assert_allclose(np.sort(result.persons.confidence)[::-1], scores[2], rtol=1e-5)
