"""SSRF allowlist for camera sources: checked when a config is validated."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.config import CameraSettings, ConfigError, parse_cameras
from trinetra.config import CameraConfig, NetworkPolicy, SourceNotAllowedError


def _camera(source: str) -> dict[str, Any]:
    return {"id": "cam", "name": "cam", "role": "tracking", "source": source}


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Replace socket.getaddrinfo with fixed answers; returns the hosts looked up."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, 0),
            )
            for ip in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    "source",
    [
        "rtsp://127.0.0.1:8554/s",
        "rtsp://[::1]:8554/s",
        "rtsp://localhost:8554/s",
        "http://10.1.2.3/video",
        "http://172.20.0.5:8080/video",
        "rtsp://user:pw@192.168.1.64/h264",
        "rtsp://[fd00::5]/s",
    ],
)
def test_loopback_and_private_hosts_are_allowed(source: str) -> None:
    assert CameraConfig.model_validate(_camera(source)).source == source


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rtsp://8.8.8.8/s", "outside the source allowlist"),
        ("http://203.0.113.10/video", "outside the source allowlist"),
        ("http://172.32.0.1/video", "outside the source allowlist"),  # just past 172.16/12
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("rtsp://[fe80::1]/s", "link-local"),
        ("http://0.0.0.0:8080/", "not a unicast address"),
        ("rtsp://224.0.0.1/s", "not a unicast address"),
    ],
)
def test_public_link_local_and_special_hosts_are_refused(source: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as exc:
        CameraConfig.model_validate(_camera(source))
    assert [tuple(e["loc"]) for e in exc.value.errors()] == [("source",)]


def test_hostname_resolving_outside_the_allowlist_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _fake_dns(
        monkeypatch,
        {
            "cam.store.internal": ["10.20.0.11"],
            "evil.example": ["203.0.113.7"],
            "rebind.example": ["10.0.0.5", "203.0.113.9"],  # one bad answer is enough
            "metadata.example": ["169.254.169.254"],
        },
    )
    assert CameraConfig.model_validate(_camera("rtsp://cam.store.internal/s"))
    for host, shown in [
        ("evil.example", "203.0.113.7"),
        ("rebind.example", "203.0.113.9"),
        ("metadata.example", "169.254.169.254"),
    ]:
        with pytest.raises(ValidationError, match=rf"'{host}' \({shown}\)"):
            CameraConfig.model_validate(_camera(f"http://{host}/video"))
    with pytest.raises(ValidationError, match=r"'nowhere\.example' does not resolve"):
        CameraConfig.model_validate(_camera("rtsp://nowhere.example/s"))
    assert asked == [
        "cam.store.internal",
        "evil.example",
        "rebind.example",
        "metadata.example",
        "nowhere.example",
    ]


def test_file_sources_are_not_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _fake_dns(monkeypatch, {})
    CameraConfig.model_validate(_camera("/srv/video.mp4"))
    assert asked == []


def test_custom_allowlist_via_context() -> None:
    policy = NetworkPolicy.from_cidrs(["10.20.0.0/16"])
    context = {"network_policy": policy}
    assert CameraConfig.model_validate(_camera("rtsp://10.20.3.4/s"), context=context)
    with pytest.raises(ValidationError, match="outside the source allowlist"):
        CameraConfig.model_validate(_camera("rtsp://10.30.0.1/s"), context=context)
    with pytest.raises(ValidationError, match="outside the source allowlist"):
        CameraConfig.model_validate(_camera("rtsp://127.0.0.1/s"), context=context)


def test_link_local_needs_an_explicit_entry() -> None:
    everything = NetworkPolicy.from_cidrs(["0.0.0.0/0", "::/0"])
    with pytest.raises(SourceNotAllowedError, match="link-local"):
        everything.check_host("169.254.169.254")
    everything.check_host("8.8.8.8")  # allowed by 0.0.0.0/0

    explicit = NetworkPolicy.from_cidrs(["169.254.10.0/24"])
    explicit.check_host("169.254.10.7")
    with pytest.raises(SourceNotAllowedError, match="link-local"):
        explicit.check_host("169.254.169.254")


def test_allowlist_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINETRA_SOURCE_ALLOWLIST", "10.20.0.0/16, 127.0.0.0/8")
    document = {"cameras": [_camera("rtsp://192.168.1.5/s")]}
    with pytest.raises(ConfigError, match=r"camera 'cam' field 'source'.*outside"):
        parse_cameras(document)
    document = {"cameras": [_camera("rtsp://10.20.1.1/s")]}
    assert parse_cameras(document)[0].source == "rtsp://10.20.1.1/s"

    monkeypatch.setenv("TRINETRA_SOURCE_ALLOWLIST", '["192.168.7.0/24"]')
    assert CameraSettings().source_allowlist == ["192.168.7.0/24"]


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "not-a-network", "10.0.0.0/33"])
def test_invalid_allowlist_entries_are_errors(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("TRINETRA_SOURCE_ALLOWLIST", bad)
    with pytest.raises(ValidationError, match="source_allowlist"):
        CameraSettings()
