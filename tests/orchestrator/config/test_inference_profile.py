"""The store node's inference deadline follows its profile unless it is set: 5 s against
a GPU Triton, 30 s against the CPU one (where 5 s dropped most frames under load)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.config.node import NodeSettings
from trinetra.inference import TritonSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRINETRA_INFERENCE_PROFILE", "TRINETRA_TRITON__CALL_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


def test_gpu_is_the_default_profile_with_a_5_s_deadline() -> None:
    settings = NodeSettings()
    assert (settings.inference_profile, settings.triton.call_timeout_s) == ("gpu", 5.0)


def test_the_cpu_profile_waits_longer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINETRA_INFERENCE_PROFILE", "cpu")
    monkeypatch.setenv("TRINETRA_TRITON__URL", "127.0.0.1:8001")
    settings = NodeSettings()
    assert settings.triton.call_timeout_s == 30.0
    assert settings.triton.url == "127.0.0.1:8001"  # the rest of the section is kept


def test_an_explicit_deadline_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINETRA_INFERENCE_PROFILE", "cpu")
    monkeypatch.setenv("TRINETRA_TRITON__CALL_TIMEOUT_S", "12")
    assert NodeSettings().triton.call_timeout_s == 12.0
    given = NodeSettings(triton=TritonSettings(url="10.0.0.7:8001", call_timeout_s=2))
    assert given.triton.call_timeout_s == 2.0


def test_a_section_given_without_a_deadline_takes_the_profile_one() -> None:
    settings = NodeSettings(inference_profile="cpu", triton=TritonSettings(url="10.0.0.7:8001"))
    assert (settings.triton.url, settings.triton.call_timeout_s) == ("10.0.0.7:8001", 30.0)


def test_an_unknown_profile_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINETRA_INFERENCE_PROFILE", "tpu")
    with pytest.raises(ValidationError, match="inference_profile"):
        NodeSettings()
