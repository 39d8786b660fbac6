"""Stream types in the camera model: inferred from the source or explicit, contradictions
named on the field, each type's option section, URL rules and SSRF checks for the new
schemes, and the commented examples of cameras.example.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from orchestrator.config import ConfigError, parse_cameras
from trinetra.config import CameraConfig, SourceKind
from trinetra.config.camera import SocketFraming, WebSocketEncoding

EXAMPLE = Path(__file__).resolve().parents[3] / "orchestrator" / "config" / "cameras.example.yaml"


def _camera(source: Any, **overrides: Any) -> dict[str, Any]:
    return {"id": "cam", "name": "cam", "role": "tracking", "source": source, **overrides}


def _locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors()]


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("rtsp://127.0.0.1/stream", SourceKind.RTSP),
        ("https://10.0.0.5/video.mjpg", SourceKind.MJPEG),
        ("ws://127.0.0.1:8080/stream", SourceKind.WEBSOCKET),
        ("wss://camera.local:8443/stream", SourceKind.WEBSOCKET),
        ("tcp://192.168.1.103:9000", SourceKind.SOCKET),
        ("/dev/video0", SourceKind.USB),
        ("/dev/v4l/by-id/usb-046d_HD_Webcam-video-index0", SourceKind.USB),
        ("0", SourceKind.USB),
        (3, SourceKind.USB),  # YAML `source: 3`
        ("/srv/video/demo.mp4", SourceKind.FILE),
        ("file:///srv/video/demo.mp4", SourceKind.FILE),
        ("/dev/videos/demo.mp4", SourceKind.FILE),  # not a device name
    ],
)
def test_stream_type_is_inferred_from_the_source(
    source: Any, kind: SourceKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.1.1", 0))])
    config = CameraConfig.model_validate(_camera(source))
    assert config.stream_type is None  # not given: nothing stored, inferred on use
    assert config.source_kind is kind
    explicit = CameraConfig.model_validate(_camera(source, stream_type=kind.value))
    assert explicit.source_kind is kind


def test_explicit_stream_types_widen_only_device_like_paths() -> None:
    udev = CameraConfig.model_validate(_camera("/dev/front-door", stream_type="usb"))
    assert udev.source_kind is SourceKind.USB and udev.device == "/dev/front-door"
    index = CameraConfig.model_validate(_camera(1))
    assert index.source == "1" and index.device == 1
    file_named_0 = CameraConfig.model_validate(_camera("0", stream_type="file"))
    assert file_named_0.source_kind is SourceKind.FILE and file_named_0.file_path == "0"
    # Keeping the inferred type stays valid across a dump (the gateway stores configs).
    for config in (udev, index, file_named_0):
        again = CameraConfig.model_validate(config.model_dump(mode="json"))
        assert again == config


@pytest.mark.parametrize(
    ("source", "stream_type", "says"),
    [
        ("rtsp://127.0.0.1/s", "websocket", "rtsp:// URLs are stream_type 'rtsp'"),
        ("ws://127.0.0.1/s", "rtsp", "ws:// URLs are stream_type 'websocket'"),
        ("http://127.0.0.1/v", "socket", "http:// URLs are stream_type 'mjpeg'"),
        ("tcp://127.0.0.1:9000", "mjpeg", "tcp:// URLs are stream_type 'socket'"),
        ("media/demo.avi", "usb", "file paths are stream_type 'file'"),
        ("/dev/video0", "file", "device paths are stream_type 'usb'"),
        ("file:///dev/video0", "usb", "file:// URLs are stream_type 'file'"),
        ("2", "rtsp", "device indexes are stream_type 'usb'"),
    ],
)
def test_a_contradicting_stream_type_is_an_error_on_that_field(
    source: str, stream_type: str, says: str
) -> None:
    with pytest.raises(ValidationError, match=f"stream_type '{stream_type}' does not match") as exc:
        CameraConfig.model_validate(_camera(source, stream_type=stream_type))
    assert _locs(exc) == [("stream_type",)]
    assert says in str(exc.value)


def test_the_error_never_shows_the_password() -> None:
    source = "rtsp://admin:s3cret@192.168.1.10:554/h264"
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera(source, stream_type="websocket"))
    assert "s3cret" not in str(exc.value)


def test_an_unknown_stream_type_names_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera("rtsp://127.0.0.1/s", stream_type="webrtc"))
    assert _locs(exc) == [("stream_type",)]


@pytest.mark.parametrize(
    ("source", "section", "options", "kind"),
    [
        ("rtsp://127.0.0.1/s", "websocket", {"encoding": "base64"}, "rtsp"),
        ("ws://127.0.0.1/s", "socket", {}, "websocket"),
        ("tcp://127.0.0.1:9", "usb", {"fps": 30}, "socket"),
        ("/dev/video0", "websocket", {}, "usb"),
        ("media/demo.avi", "socket", {"keepalive": False}, "file"),
    ],
)
def test_options_of_another_stream_type_are_an_error_on_their_section(
    source: str, section: str, options: dict[str, Any], kind: str
) -> None:
    with pytest.raises(ValidationError, match=f"this camera is stream_type '{kind}'") as exc:
        CameraConfig.model_validate(_camera(source, **{section: options}))
    assert _locs(exc) == [(section,)]


def test_a_wrong_stream_type_is_reported_once() -> None:
    # The section is not judged against a stream type that is itself invalid.
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(
            _camera("rtsp://127.0.0.1/s", stream_type="websocket", websocket={})
        )
    assert _locs(exc) == [("stream_type",)]


def test_option_sections_have_documented_defaults_and_parse() -> None:
    ws = CameraConfig.model_validate(_camera("ws://127.0.0.1/s", websocket={"encoding": "base64"}))
    assert ws.websocket is not None
    assert ws.websocket.encoding is WebSocketEncoding.BASE64
    assert (ws.websocket.ping_interval_s, ws.websocket.ping_timeout_s) == (30.0, 20.0)
    assert ws.websocket.max_message_bytes == 5 * 1024 * 1024
    tcp = CameraConfig.model_validate(_camera("tcp://127.0.0.1:9000", socket={}))
    assert tcp.socket is not None
    assert tcp.socket.framing is SocketFraming.JPEG_MARKERS and tcp.socket.keepalive
    usb = CameraConfig.model_validate(_camera("/dev/video0", usb={"resolution": [640, 480]}))
    assert usb.usb is not None and usb.usb.resolution == (640, 480)
    assert usb.usb.fps is None and usb.usb.pixel_format is None


@pytest.mark.parametrize(
    ("source", "section", "options", "loc"),
    [
        ("ws://127.0.0.1/s", "websocket", {"encoding": "hex"}, ("websocket", "encoding")),
        (
            "ws://127.0.0.1/s",
            "websocket",
            {"max_message_bytes": 10},
            ("websocket", "max_message_bytes"),
        ),
        ("ws://127.0.0.1/s", "websocket", {"ping_interval_s": 0}, ("websocket", "ping_interval_s")),
        ("ws://127.0.0.1/s", "websocket", {"ping_every": 5}, ("websocket", "ping_every")),
        ("tcp://127.0.0.1:9", "socket", {"framing": "newline"}, ("socket", "framing")),
        ("tcp://127.0.0.1:9", "socket", {"max_frame_bytes": 10**9}, ("socket", "max_frame_bytes")),
        ("/dev/video0", "usb", {"resolution": "1280*720"}, ("usb", "resolution")),
        ("/dev/video0", "usb", {"resolution": "8x720"}, ("usb", "resolution", 0)),
        ("/dev/video0", "usb", {"fps": -1}, ("usb", "fps")),
        ("/dev/video0", "usb", {"pixel_format": "mjpeg"}, ("usb", "pixel_format")),
    ],
)
def test_bad_options_name_the_nested_field(
    source: str, section: str, options: dict[str, Any], loc: tuple[str | int, ...]
) -> None:
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera(source, **{section: options}))
    assert _locs(exc) == [loc]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("tcp://127.0.0.1", "needs a port"),
        ("tcp://127.0.0.1:9000/stream", "host:port only"),
        ("tcp://127.0.0.1:9000?x=1", "host:port only"),
        ("tcp://user:pw@127.0.0.1:9000", "no credentials"),
        ("ws:///stream", "has no host"),
        ("wss://127.0.0.1:70000/s", "invalid port"),
        ("udp://127.0.0.1:9000", "unsupported source scheme 'udp'"),
    ],
)
def test_bad_stream_urls_are_refused(source: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as exc:
        CameraConfig.model_validate(_camera(source))
    assert _locs(exc) == [("source",)]


@pytest.mark.parametrize(
    "source",
    [
        "ws://8.8.8.8/stream",
        "wss://169.254.169.254/latest/meta-data/",
        "tcp://169.254.169.254:80",
        "tcp://[fe80::1]:9000",
        "ws://203.0.113.10:8080/stream",
    ],
)
def test_new_network_schemes_obey_the_source_allowlist(source: str) -> None:
    with pytest.raises(ValidationError) as exc:
        CameraConfig.model_validate(_camera(source))
    assert _locs(exc) == [("source",)]


def test_the_loader_names_the_camera_and_the_stream_type_field() -> None:
    document = {"cameras": [_camera("rtsp://127.0.0.1/s", stream_type="websocket")]}
    with pytest.raises(ConfigError, match=r"camera 'cam' field 'stream_type': .*does not match"):
        parse_cameras(document)


def _commented_examples() -> list[dict[str, Any]]:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Other stream types"))
    block = [line[1:] for line in lines[start:] if line.startswith("#  ") or line == "#"]
    cameras = yaml.safe_load("\n".join(block))
    assert isinstance(cameras, list)
    return cameras


def test_the_commented_examples_are_valid_cameras() -> None:
    cameras = parse_cameras({"cameras": _commented_examples()})
    assert {camera.id: camera.source_kind for camera in cameras} == {
        "kiosk-ws": SourceKind.WEBSOCKET,
        "dvr-socket": SourceKind.SOCKET,
        "stockroom-usb": SourceKind.USB,
    }
