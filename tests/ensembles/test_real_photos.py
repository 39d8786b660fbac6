"""Face-to-person links and face quality on the test photos, from the real default
detectors through the vision pipeline's own steps (see real_pipeline.py)."""

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from ensembles.ops.face_quality import face_quality
from ensembles.ops.image import decode_image
from tests.ensembles.real_pipeline import Analysed, Detectors
from tests.support.media import media_bytes, video_frame

PORTRAITS = [
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
    "biden.jpg",
]


def sizes(result: Analysed) -> NDArray[np.float32]:
    faces = result.outputs.face_boxes
    size: NDArray[np.float32] = np.minimum(faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1])
    return size


def assert_one_face_per_box(result: Analysed) -> None:
    linked = result.outputs.face_person_index
    linked = linked[linked >= 0]
    assert len(set(linked.tolist())) == len(linked), f"a box with two faces: {linked}"


def test_players_each_box_gets_at_most_its_own_face(detectors: Detectors) -> None:
    result = detectors.photo("players.jpg")
    out = result.outputs
    size = sizes(result)
    link = out.face_person_index
    players = size >= 30  # the 16 players and staff in front: 35-46 px
    background = ~players  # spectators behind them: 15-23 px
    assert players.sum() == 16 and background.sum() >= 6
    assert_one_face_per_box(result)
    assert (link[players] >= 0).all()
    # A spectator's face is linked at most to a box of that spectator's own head (a
    # person box no taller than three of its face heights), never to a player's box.
    player_boxes = set(link[players].tolist())
    face_h = out.face_boxes[:, 3] - out.face_boxes[:, 1]
    person_h = out.person_boxes[:, 3] - out.person_boxes[:, 1]
    for face in np.flatnonzero(background):
        person = int(link[face])
        if person >= 0:
            assert person not in player_boxes
            assert person_h[person] <= 3 * face_h[face], (face, person)


def test_the_players_faces_sit_at_the_top_of_their_boxes(detectors: Detectors) -> None:
    # (the smallest containing box, the old rule, put three players' faces in the chest or
    # belly of a box of the man standing behind them)
    result = detectors.photo("players.jpg")
    out = result.outputs
    players = sizes(result) >= 30
    for face, person in zip(out.face_boxes[players], out.face_person_index[players], strict=True):
        assert person >= 0
        box = out.person_boxes[person]
        centre_x, centre_y = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
        assert box[0] < centre_x < box[2]
        # everyone is in full view here: the head is in the top fifth of the box
        assert (centre_y - box[1]) / (box[3] - box[1]) < 0.2


def test_t1_group_links_every_face_to_a_distinct_box(detectors: Detectors) -> None:
    link = detectors.photo("t1.jpg").outputs.face_person_index
    assert len(link) == 6 and (link >= 0).all() and len(set(link.tolist())) == 6


def test_people_cut_at_the_chest_by_the_frame_still_link(detectors: Detectors) -> None:
    # t1 cropped under the faces: every box is an upper body ending at the frame's edge,
    # the faces sit at up to two thirds of the box height
    frame = decode_image(media_bytes("t1.jpg"))[:450]
    result = detectors(frame)
    link = result.outputs.face_person_index
    assert len(link) == 6 and (link >= 0).all()
    assert_one_face_per_box(result)


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_close_up_portrait_links(name: str, detectors: Detectors) -> None:
    out = detectors.photo(name).outputs
    assert len(out.face_boxes) == 1
    person = int(out.face_person_index[0])
    assert person >= 0 and out.person_scores[person] == out.person_scores.max()


def test_vtest_pedestrians_faces_link_one_per_box(detectors: Detectors) -> None:
    faces = 0
    for index in (500, 600):
        result = detectors(video_frame("vtest.avi", index))
        assert_one_face_per_box(result)
        assert (result.outputs.face_person_index >= 0).all()
        faces += len(result.outputs.face_boxes)
    assert faces >= 2


def quality_of(result: Analysed) -> tuple[list[str], NDArray[np.float32]]:
    out = result.outputs
    quality = face_quality(out.face_boxes, out.face_scores, out.face_landmarks, result.crops)
    return quality.reason.tolist(), quality.yaw


@pytest.mark.parametrize("name", PORTRAITS)
def test_a_frontal_portrait_passes(name: str, detectors: Detectors) -> None:
    reasons, _ = quality_of(detectors.photo(name))
    assert reasons == ["ok"]


def test_t1_frontal_faces_pass_and_the_turned_head_fails(detectors: Detectors) -> None:
    reasons, yaw = quality_of(detectors.photo("t1.jpg"))
    turned = int(np.abs(yaw).argmax())  # the man looking over his shoulder
    assert reasons[turned] == "not_frontal"
    assert [r for i, r in enumerate(reasons) if i != turned] == ["ok"] * 5


def test_players_background_faces_are_too_small(detectors: Detectors) -> None:
    result = detectors.photo("players.jpg")
    reasons, _ = quality_of(result)
    size = sizes(result)
    assert all(r == "too_small" for r, s in zip(reasons, size, strict=True) if s < 30)
    # the players' own faces, at 35-46 px, straddle the 40 px floor
    assert all(r == "ok" for r, s in zip(reasons, size, strict=True) if s >= 41)


def test_a_blurred_portrait_is_blurry(detectors: Detectors) -> None:
    # obama.jpg shrunk so that the face is ~100 px wide, then sharp and blurred
    frame = decode_image(media_bytes("obama.jpg"))
    small = np.asarray(cv2.resize(frame, None, fx=0.43, fy=0.43, interpolation=cv2.INTER_AREA))
    blurred = np.asarray(cv2.GaussianBlur(small, (0, 0), 3.0), np.uint8)
    assert quality_of(detectors(small.astype(np.uint8)))[0] == ["ok"]
    assert quality_of(detectors(blurred))[0] == ["blurry"]
