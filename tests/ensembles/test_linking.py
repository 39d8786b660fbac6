"""Faces linked to person boxes: one face per box at most, where a head sits."""

import numpy as np
from numpy.typing import NDArray

from ensembles.ops.boxes import (
    MAX_HEAD_X,
    MIN_HEIGHT_RATIO,
    head_placement_cost,
    link_faces_to_persons,
)


def boxes(*rows: tuple[float, float, float, float]) -> NDArray[np.float32]:
    return np.array(rows, np.float32).reshape(-1, 4)


# A standing person, 100 x 300 px, and the face where their head is.
PERSON = (0.0, 0.0, 100.0, 300.0)
HEAD = (37.0, 8.0, 63.0, 40.0)


def test_the_head_of_a_lone_person_links() -> None:
    assert link_faces_to_persons(boxes(HEAD), boxes(PERSON)).tolist() == [0]


def test_two_faces_in_one_box_only_the_best_placed_links() -> None:
    off_centre = (68.0, 20.0, 90.0, 48.0)  # someone behind the shoulder
    assert link_faces_to_persons(boxes(off_centre, HEAD), boxes(PERSON)).tolist() == [-1, 0]
    assert link_faces_to_persons(boxes(HEAD, off_centre), boxes(PERSON)).tolist() == [0, -1]


def test_a_face_below_the_head_region_is_unlinked() -> None:
    chest = (37.0, 130.0, 63.0, 162.0)  # a child or a seated person in front
    assert link_faces_to_persons(boxes(chest), boxes(PERSON)).tolist() == [-1]
    # even when the person's own face is not detected
    assert np.isinf(head_placement_cost(boxes(chest), boxes(PERSON))).all()


def test_faces_in_the_overlap_of_two_boxes_go_each_to_its_own() -> None:
    persons = boxes((0, 0, 140, 300), (60, 10, 200, 310))
    # both faces lie inside both boxes, each nearer its own box's centre line and top
    faces = boxes((70, 15, 100, 55), (100, 30, 130, 70))
    cost = head_placement_cost(faces, persons)
    assert np.isfinite(cost).all()
    assert link_faces_to_persons(faces, persons).tolist() == [0, 1]
    assert link_faces_to_persons(faces[::-1].copy(), persons).tolist() == [1, 0]


def test_a_face_is_not_moved_to_a_duplicate_box_to_make_room_for_a_bystander() -> None:
    # A's box P and a second box Q of A's (NMS keeps such duplicates), and a smaller face
    # B at P's shoulder that fits only P: maximising the number of links would put A on Q
    # and B on P, the false-merge path; B stays out.
    persons = boxes((0, 0, 100, 300), (20, 0, 120, 300))
    a = (37.0, 8.0, 63.0, 40.0)
    b = (14.0, 60.0, 34.0, 86.0)
    cost = head_placement_cost(boxes(a, b), persons)
    assert np.isfinite(cost[0]).all() and np.isfinite(cost[1, 0]) and np.isinf(cost[1, 1])
    assert link_faces_to_persons(boxes(a, b), persons).tolist() == [0, -1]
    assert link_faces_to_persons(boxes(b), persons).tolist() == [0]  # alone, it fits


def test_small_background_faces_stay_off_a_foreground_box() -> None:
    # a 20 px face near the top of a 160 x 500 px player: 0.05 of the box's longer side
    player = (0.0, 0.0, 160.0, 500.0)
    assert MIN_HEIGHT_RATIO > 24 / 500
    assert link_faces_to_persons(boxes((70, 10, 90, 34)), boxes(player)).tolist() == [-1]
    # above the box top: someone behind
    assert link_faces_to_persons(boxes((60, -30, 100, 20)), boxes(player)).tolist() == [-1]


def test_people_cut_by_the_frame_and_in_wide_poses_still_link() -> None:
    # cut at the chest by the frame's bottom edge: the face sits at 0.55 of the box height
    upper_body = (0.0, 0.0, 120.0, 150.0)
    assert link_faces_to_persons(boxes((38, 20, 82, 80)), boxes(upper_body)).tolist() == [0]
    # an arm pointing to the side: the box is five faces wide, the face off-centre
    pointing = (0.0, 0.0, 220.0, 400.0)
    assert link_faces_to_persons(boxes((40, 10, 84, 66)), boxes(pointing)).tolist() == [0]
    # a kick with the arms spread: wider than tall, the face a tenth of the box width
    kicking = (0.0, 0.0, 390.0, 280.0)
    assert link_faces_to_persons(boxes((160, 30, 190, 71)), boxes(kicking)).tolist() == [0]
    # cut by the frame's left edge: face and box clipped by the same edge
    cut = (0.0, 0.0, 60.0, 300.0)
    assert link_faces_to_persons(boxes((0, 8, 22, 40)), boxes(cut)).tolist() == [0]
    assert abs(11 - 30) / 30 <= MAX_HEAD_X


def test_person_scores_break_ties_between_duplicate_boxes() -> None:
    upper, full = (0.0, 0.0, 100.0, 150.0), (0.0, 0.0, 100.0, 300.0)
    faces, persons = boxes(HEAD), boxes(upper, full)
    scores = np.array([0.3, 0.8], np.float32)
    assert link_faces_to_persons(faces, persons, scores).tolist() == [1]
    assert link_faces_to_persons(faces, persons, scores[::-1].copy()).tolist() == [0]


def test_no_faces_or_no_persons() -> None:
    empty = boxes()
    assert link_faces_to_persons(empty, boxes(PERSON)).shape == (0,)
    unlinked = link_faces_to_persons(boxes(HEAD, HEAD), empty)
    assert unlinked.dtype == np.int64 and unlinked.tolist() == [-1, -1]


def test_indices_refer_to_the_inputs_when_some_have_no_candidate() -> None:
    persons = boxes((500, 0, 600, 300), PERSON, (700, 0, 800, 300))
    faces = boxes((900, 900, 920, 924), HEAD, (737, 8, 763, 40))
    assert link_faces_to_persons(faces, persons).tolist() == [-1, 1, 2]
