"""The source masker (trinetra.config.secrets): every form of credential a camera URL
carries is hidden, the rest stays readable, and no string makes it fail or leak."""

from __future__ import annotations

import random
import string
from urllib.parse import quote

import pytest

from trinetra.config.camera import CameraConfig
from trinetra.config.secrets import MASK, is_secret_name, mask_source, scrub, secret_values


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (
            "rtsp://admin:hunter2@192.168.1.20:554/stream1",
            "rtsp://admin:***@192.168.1.20:554/stream1",
        ),
        (
            "rtsp://10.0.0.5/live?user=admin&password=s3cr%40t&token=abc.def==&channel=1",
            "rtsp://10.0.0.5/live?user=admin&password=***&token=***&channel=1",
        ),
        (
            "https://cam.example.com/v.mjpg?apiKey=XYZ&accessToken=t0k&keyframe=1&monkey=2",
            "https://cam.example.com/v.mjpg?apiKey=***&accessToken=***&keyframe=1&monkey=2",
        ),
        (
            "https://b.s3.amazonaws.com/v.mp4?X-Amz-Credential=AKIA%2F20&X-Amz-Signature=beef",
            "https://b.s3.amazonaws.com/v.mp4?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        (  # a DVR's path-style login: over-masked to the end of the segment
            "rtsp://192.168.1.10:554/user=admin_password=tlJwpbo6_channel=1_stream=0.sdp",
            "rtsp://192.168.1.10:554/user=admin_password=***",
        ),
        ("http://h/p;jsessionid=ABC123?x=1", "http://h/p;jsessionid=***?x=1"),
        (
            "ws://[::1]:8080/ws?session=abc#access_token=zz&x=1",
            "ws://[::1]:8080/ws?session=***#access_token=***&x=1",
        ),
        ("rtsp://admin:pa/ss@host/stream", "rtsp://admin:***@host/stream"),
        ("rtsp://:pw@host/x", "rtsp://:***@host/x"),
        ("rtsp://operator@host/x", "rtsp://operator@host/x"),
        ("/videos/cam.mp4", "/videos/cam.mp4"),
        ("file:///tmp/a.mp4", "file:///tmp/a.mp4"),
        ("0", "0"),
        ("tcp://10.0.0.1:9000", "tcp://10.0.0.1:9000"),
        ("rtsp://[::1", "rtsp://[::1"),
    ],
)
def test_mask_source(source: str, shown: str) -> None:
    assert mask_source(source) == shown


@pytest.mark.parametrize(
    "name",
    [
        "password", "passwd", "pwd", "pass", "token", "access_token", "auth", "key", "api_key",
        "apikey", "apiKey", "secret", "client_secret", "signature", "sig", "credential",
        "credentials", "session", "sessionId", "X-Amz-Date", "x-goog-signature", "stream_key",
        "AUTH_TOKEN", "jwt", "PHPSESSID",
    ],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["user", "username", "channel", "subtype", "stream", "keyframe", "monkey", "fps", ""]
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


SECRET_NAMES = ["password", "pwd", "token", "access_token", "apiKey", "sig", "X-Amz-Signature"]
PLAIN_NAMES = ["channel", "subtype", "user", "stream", "fps"]


def _secret(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-._~!$'()*+,;=:@/%?#&"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 24)))


def test_random_urls_never_show_their_secrets() -> None:
    """Property, over 3000 seeded random URLs: each secret (raw or percent-encoded, in
    userinfo, query or fragment) is gone from the masked form, and every ordinary
    parameter is still there, unchanged."""
    rng = random.Random(14)
    for _ in range(3000):
        scheme = rng.choice(["rtsp", "rtsps", "http", "https", "ws", "wss"])
        host = rng.choice(["10.0.0.5", "cam.example.com", "[fd00::5]"])
        port = rng.choice(["", ":554", ":8080"])
        password = quote(_secret(rng), safe="")
        user = rng.choice(["", "admin", "op"])
        userinfo = rng.choice(["", f"{user}:{password}@", f"{user}@"])
        params: list[tuple[str, str]] = []
        secrets: list[str] = []
        for _ in range(rng.randint(0, 5)):
            if rng.random() < 0.5:
                value = quote(_secret(rng), safe=rng.choice(["", "/:@"]))
                params.append((rng.choice(SECRET_NAMES), value))
                secrets.append(value)
            else:
                params.append((rng.choice(PLAIN_NAMES), str(rng.randint(0, 99))))
        rng.shuffle(params)
        query = "&".join(f"{k}={v}" for k, v in params)
        fragment = rng.choice(["", f"#token={password}", "#top"])
        source = f"{scheme}://{userinfo}{host}{port}/s1{'?' + query if query else ''}{fragment}"
        if userinfo.count(":"):
            secrets.append(password)
        if fragment.startswith("#token"):
            secrets.append(password)
        shown = mask_source(source)
        for secret in secrets:
            assert secret not in shown, (source, shown)
        for name, value in params:
            if name in PLAIN_NAMES:
                assert f"{name}={value}" in shown, (source, shown)
        assert shown.startswith(f"{scheme}://") and host in shown, (source, shown)


def test_mask_source_never_raises() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 60)))
        assert isinstance(mask_source(text), str)


def test_scrub_removes_secrets_from_free_text() -> None:
    source = "rtsp://admin:hunter2@h/x?token=abc%2Fdef&channel=1"
    message = f"cannot open {source}: server said abc/def, password hunter2"
    scrubbed = scrub(message, source)
    assert "hunter2" not in scrubbed and "abc/def" not in scrubbed and "abc%2Fdef" not in scrubbed
    assert "rtsp://admin:***@h/x?token=***&channel=1" in scrubbed
    assert secret_values("rtsp://h/x?channel=1") == []


def test_camera_config_shows_only_the_masked_source() -> None:
    config = CameraConfig(
        id="door",
        name="Door",
        role="entrance",
        source="rtsp://admin:hunter2@10.0.0.5/s?password=pw123&token=tok456&channel=1",
    )
    assert config.redacted_source == "rtsp://admin:***@10.0.0.5/s?password=***&token=***&channel=1"
    for text in (repr(config), str(config)):
        assert MASK in text
        for secret in ("hunter2", "pw123", "tok456"):
            assert secret not in text
    assert "hunter2" in config.source  # the node still connects with the real one
