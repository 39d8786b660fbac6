"""The live view served by the store node: a real node (real Triton, NATS and a file
camera) streams over WebRTC to an aiortc viewer on loopback, and every received frame
carries the boxes the tracker found on that very frame; plus the offer endpoint's
refusals and the frame source's economy (nothing held or drawn without viewers)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
from numpy.typing import NDArray

from orchestrator.cameras.frame import Frame
from orchestrator.live import (
    AnnotatedFrameSource,
    LiveViewAnswerer,
    ViewerLimitError,
)
from orchestrator.live.drawing import BOX_COLOR
from tests.orchestrator.live.helpers import (
    FRAMES,
    HEIGHT,
    STEP_PX,
    WIDTH,
    answered_offer,
    camera,
    drawn_box_columns,
    green_mask,
    node_url,
    post,
    read_code,
    store_node,
    viewer,
    write_synthetic_video,
)
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings, VisionClient
from trinetra.inference.detections import Detections

# The drawn edge may sit a few pixels off the detector's box after VP8 (chroma at half
# resolution); a frame early or late would be STEP_PX off.
EDGE_TOLERANCE_PX = 6
assert EDGE_TOLERANCE_PX < STEP_PX / 2


async def person_edges(client: VisionClient, image: NDArray[np.uint8]) -> tuple[float, float]:
    """The left and right edges of the one person the detector finds in `image`."""
    analysis = await client.analyze(image)
    boxes = analysis.persons.xyxy[analysis.persons.confidence >= 0.5]
    assert len(boxes) == 1, boxes
    return float(boxes[0][0]), float(boxes[0][2])


async def test_received_frames_carry_their_own_boxes(
    triton_server: LocalTriton, nats_server: NatsServer, tmp_path: Path
) -> None:
    video = tmp_path / "moving-person.avi"
    decoded = write_synthetic_video(video)
    assert not any(green_mask(frame).any() for frame in decoded)  # only boxes are green
    cam = camera("aisle", str(video), fps=10)
    async with store_node(triton_server.grpc_url, nats_server.url, [cam]) as node:
        offer_url = f"{node_url(node)}/live/aisle/offer"
        async with viewer() as peer:
            await peer.accept(await answered_offer(offer_url, await peer.offer()))
            images = await peer.frames(30, timeout_s=60)
            assert node.live.viewers("aisle") == 1
        # the viewer left: the node notices, holds no frame and draws nothing any more
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while node.live.viewers("aisle") or node.cameras["aisle"].live.newest() is not None:
            assert loop.time() < deadline, "the viewer was never dropped"
            await asyncio.sleep(0.2)
    assert all(image.shape == (HEIGHT, WIDTH, 3) for image in images)

    truth: dict[int, tuple[float, float]] = {}
    checked = 0
    off: list[tuple[int, tuple[int, int], tuple[float, float]]] = []
    async with VisionClient(TritonSettings(url=triton_server.grpc_url, call_timeout_s=30)) as vc:
        for image in images:
            index = read_code(image)
            assert index < FRAMES, index
            drawn = drawn_box_columns(image)
            if drawn is None:  # a frame whose person was not a confirmed track yet
                continue
            if index not in truth:
                truth[index] = await person_edges(vc, decoded[index])
            left, right = truth[index]
            # the box drawn is the one found on the frame shown: offset 0 frames
            if (
                abs(drawn[0] - left) > EDGE_TOLERANCE_PX
                or abs(drawn[1] - right) > EDGE_TOLERANCE_PX
            ):
                off.append((index, drawn, truth[index]))
            checked += 1
    assert checked >= 5, f"only {checked} of {len(images)} received frames showed a box"
    # A box from another frame is off on every frame, by STEP_PX at both edges. One edge
    # of an odd frame may be off where the lossy video left the previous frame's green
    # line in place (seen once in CI: the left edge one step behind, the right edge
    # exact), or where the detector's box in a batch differs from this single-frame
    # truth: at most one frame in ten.
    assert len(off) * 10 <= checked, f"{len(off)} of {checked} boxes off their frame: {off}"
    assert len({read_code(image) for image in images}) >= 3  # the video moved on


async def test_offer_refusals_say_what_is_wrong_and_nothing_more(
    triton_server: LocalTriton, nats_server: NatsServer
) -> None:
    cams = [
        camera("door", str(media_path("vtest.avi")), fps=2),
        camera("dead", "rtsp://127.0.0.1:9/nothing", fps=2),  # discard port: never live
    ]
    async with store_node(triton_server.grpc_url, nats_server.url, cams) as node:
        base = node_url(node)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while node.cameras["door"].worker.state.value != "live":
            assert loop.time() < deadline
            await asyncio.sleep(0.2)

        bad_sdp = await post(f"{base}/live/door/offer", {"sdp": "v=0\r\nm=bogus", "type": "offer"})
        assert bad_sdp.status_code == 400
        assert bad_sdp.json() == {
            "status": "error",
            "error": {"code": "INVALID_SDP", "message": "the SDP offer could not be answered"},
        }
        not_json = await post(f"{base}/live/door/offer", b"{not json")
        assert not_json.status_code == 400
        assert not_json.json()["error"]["code"] == "BAD_REQUEST"
        for response in (bad_sdp, not_json):  # no exception, parser or library text
            assert "Error" not in response.text and "line" not in response.text
        wrong_type = await post(f"{base}/live/door/offer", {"sdp": "v=0", "type": "answer"})
        assert wrong_type.status_code == 400

        unknown = await post(f"{base}/live/nope/offer", {"sdp": "v=0", "type": "offer"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
        dead = await post(f"{base}/live/dead/offer", {"sdp": "v=0", "type": "offer"})
        assert dead.status_code == 503 and dead.json()["error"]["code"] == "CAMERA_NOT_LIVE"
        huge = await post(f"{base}/live/door/offer", b"x" * (300 * 1024))
        assert huge.status_code == 413
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (await client.get(f"{base}/live/door/offer")).status_code == 405
            assert (await client.get(f"{base}/ready")).status_code == 200  # still serving
        assert node.live.viewers("door") == 0  # no refused offer holds a slot


def frame(seq: int, image: NDArray[np.uint8]) -> Frame:
    return Frame(camera_id="cam", seq=seq, image=image, ingest_ts=0.0, ingest_monotonic=0.0)


def tracks(x1: float, track_id: int = 7) -> Detections:
    return Detections(
        np.array([[x1, 20, x1 + 30, 80]], np.float32),
        np.array([0.9], np.float32),
        np.array([track_id], np.int64),
    )


def test_source_holds_and_draws_nothing_without_viewers() -> None:
    source = AnnotatedFrameSource("cam", fps=10)
    blank = np.zeros((120, 160, 3), np.uint8)
    source.offer(frame(1, blank), tracks(10))
    assert source.newest() is None  # nobody watched: not kept
    source.attach()
    source.offer(frame(2, blank), tracks(10))
    source.offer(frame(3, blank), tracks(50))  # replaces frame 2: newest only
    first = source.newest()
    assert first is not None and first.seq == 3
    assert source.newest() is first  # drawn once, shared by every viewer
    assert tuple(first.image[50, 50]) == BOX_COLOR  # frame 3's own box (left edge x=50)
    assert not first.image[50, 10].any()  # not frame 2's
    assert not blank.any()  # the pipeline's frame is never drawn on
    source.detach()
    assert source.newest() is None  # the last viewer left: the frame is dropped


async def test_viewer_limit_and_abandoned_offers_free_their_slot() -> None:
    source = AnnotatedFrameSource("cam", fps=5)
    answerer = LiveViewAnswerer(
        {"cam": source}, lambda _: True, max_viewers_per_camera=1, connect_timeout_s=1.0
    )
    try:
        async with viewer() as first, viewer() as second:
            await answerer.answer("cam", await first.offer())  # its answer is never applied
            try:
                await answerer.answer("cam", await second.offer())
                raise AssertionError("a second viewer was let in")
            except ViewerLimitError:
                pass
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while answerer.viewers("cam"):  # never connected: closed after 1 s
                assert loop.time() < deadline, "the abandoned offer kept its slot"
                await asyncio.sleep(0.1)
            await answerer.answer("cam", await second.offer())
            assert answerer.viewers("cam") == 1
    finally:
        await answerer.close()
    assert answerer.viewers("cam") == 0
