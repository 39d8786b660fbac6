"""The CPU launcher fails clearly when a model cannot load."""

import shutil
import subprocess
import sys
from pathlib import Path

from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from tests.support.triton_server import LAUNCHER


def test_missing_weights_fail_with_the_models_name(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    shutil.copytree(
        REPO_ROOT / "model_repository" / "face_embedder",
        repo / "face_embedder",
        ignore=shutil.ignore_patterns("*.onnx"),
    )
    result = subprocess.run(
        [
            sys.executable,
            str(LAUNCHER),
            "--model-repository",
            str(repo),
            "--model",
            "face_embedder",
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
    assert result.returncode == 2
    assert "READY" not in result.stdout
    assert "face_embedder" in result.stderr
    assert "make models" in result.stderr
