"""The identity service's command line: a config it cannot read is a clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.service import main


def test_a_missing_config_file_is_refused_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "identity.yaml"
    assert main(["--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "identity service cannot start" in err and str(missing) in err
    assert "Traceback" not in err
