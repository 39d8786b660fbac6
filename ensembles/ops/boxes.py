"""Box utilities shared by both detector heads, and the face-to-person link."""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from ensembles.ops.assignment import linear_assignment


def nms(xyxy: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> NDArray[np.int64]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    if len(xyxy) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou)
    return np.asarray(keep, np.int64).reshape(-1)


def clip(xyxy: NDArray[np.float32], width: int, height: int) -> NDArray[np.float32]:
    out = xyxy.copy()
    out[:, 0::2] = out[:, 0::2].clip(0, width)
    out[:, 1::2] = out[:, 1::2].clip(0, height)
    return out


# Where a head sits in a person box: the prior behind `link_faces_to_persons`. Measured
# with the default detectors on t1, players, bus, the obama and biden portraits, vtest.avi
# (every 50th frame), zidane.jpg, messi5.jpg, gdp.jpg and yaoming.jpg, and on crops of
# them that cut people at the frame's side and bottom edges: 89 true face/person pairs
# (faces of 32-286 px). "Crowd faces" are the 19-23 px spectators' faces lying inside a
# player's box in players.jpg.

#: Least share of the face box's area inside the person box. Person boxes hold the whole
#: head, so a face sticks out of its own person's box only by detector jitter; a face well
#: above a box's top edge is someone behind that person.
MIN_CONTAINMENT: Final = 0.8
#: The face centre lies in the top 40% of the box height (true pairs with the whole
#: person in view: 0.07-0.39)...
MAX_HEAD_Y: Final = 0.40
#: ...or at most 1.5 face heights below the box top (true pairs: 0.57-1.26, median 0.79,
#: however much of the body the box holds). The second gate keeps the link for people
#: seen from the chest up or cut by the frame's bottom edge, whose faces sit at up to 0.66
#: of the box height; a face at chest height or lower in a box (someone seated or
#: crouching in front of that person) is 2.6-6.5 of its face heights below the box top.
MAX_HEAD_DROP: Final = 1.5
TYPICAL_HEAD_DROP: Final = 0.8
#: Horizontal offset of the face centre from the box's centre line, in half box widths
#: (0 centred, 1 at a side edge). True pairs: at most 0.57, 0.69 for people cut by the
#: frame's side edge (face and box clipped by the same edge). Crowd faces: 0.37-0.98.
MAX_HEAD_X: Final = 0.75
#: Face height over the box's longer side. A body spans only so many face heights in any
#: direction (standing, arms spread, pointing, kicking), so unlike face width over box
#: width (0.12 for a pointing arm in zidane.jpg, 0.08 for a kick in messi5.jpg) this
#: holds whatever the pose. True pairs: 0.083 (the tallest players, standing) to 0.71;
#: crowd faces near a player's box centre line: 0.049-0.078 of that box.
MIN_HEIGHT_RATIO: Final = 0.08
#: From here up the size costs nothing (standing adults: 0.08-0.12).
TYPICAL_HEIGHT_RATIO: Final = 0.11
#: Face width over box width: a face nearly as wide as its box is a head-only or bad box
#: (true pairs: at most 0.57).
MAX_WIDTH_RATIO: Final = 0.80
#: Tie-break towards the better-scored box, for duplicate boxes of one person (full body
#: and upper body both kept by NMS): the tracker follows the better-scored one.
PERSON_SCORE_WEIGHT: Final = 0.1
#: What leaving a face unlinked costs in the assignment, so also the most a link may
#: cost (true pairs: at most 0.28, 0.31 with the score term). It also bounds moving a
#: face off its best box to make room for another: that happens only when the newcomer's
#: cost plus what the move adds to the moved face's stays under it. So a bystander's face
#: cannot take the box of a person whose face also fits a duplicate box of theirs (NMS
#: often keeps a full-body and an upper-body box of one person) unless it is itself a
#: good head fit there, as maximising the number of links would let it.
UNLINKED_COST: Final = 0.5


def head_placement_cost(
    faces: NDArray[np.float32],
    persons: NDArray[np.float32],
    person_scores: NDArray[np.float32] | None = None,
) -> NDArray[np.float64]:
    """Cost [faces, persons] of reading each face as the head of each person box: +inf
    outside the gates of the head prior (see `link_faces_to_persons`), else the mean of
    three terms, each 0 at the ideal placement and 1 at its gate, plus
    PERSON_SCORE_WEIGHT * (1 - person score) when scores are given.

    - horizontal: (head_x / MAX_HEAD_X)^2, head_x the offset of the face centre from the
      box's centre line in half box widths;
    - vertical: the lesser of (head_y / MAX_HEAD_Y)^2, head_y the face centre's height in
      the box as a share of the box height, and
      ((drop - TYPICAL_HEAD_DROP) / (MAX_HEAD_DROP - TYPICAL_HEAD_DROP))^2 (0 when the
      drop is smaller), drop the face centre's depth below the box top in face heights;
      of two boxes around one face, the one whose top is just above it is its person's;
    - size: (log(ratio / TYPICAL_HEIGHT_RATIO) / log(MIN_HEIGHT_RATIO / TYPICAL_HEIGHT_RATIO))^2,
      ratio the face height over the box's longer side, 0 from TYPICAL_HEIGHT_RATIO up.
    """
    if len(faces) == 0 or len(persons) == 0:
        return np.full((len(faces), len(persons)), np.inf)
    f = faces.astype(np.float64)[:, None, :]
    p = persons.astype(np.float64)[None, :, :]
    face_w = (f[..., 2] - f[..., 0]).clip(min=1e-6)
    face_h = (f[..., 3] - f[..., 1]).clip(min=1e-6)
    person_w = (p[..., 2] - p[..., 0]).clip(min=1e-6)
    person_h = (p[..., 3] - p[..., 1]).clip(min=1e-6)
    inter_w = (np.minimum(f[..., 2], p[..., 2]) - np.maximum(f[..., 0], p[..., 0])).clip(min=0)
    inter_h = (np.minimum(f[..., 3], p[..., 3]) - np.maximum(f[..., 1], p[..., 1])).clip(min=0)
    containment = inter_w * inter_h / (face_w * face_h)
    head_x = np.abs((f[..., 0] + f[..., 2]) - (p[..., 0] + p[..., 2])) / person_w
    below_top = (f[..., 1] + f[..., 3]) / 2 - p[..., 1]
    head_y = below_top / person_h
    drop = below_top / face_h
    ratio = face_h / np.maximum(person_w, person_h)
    x_term = (head_x / MAX_HEAD_X) ** 2
    y_term = np.minimum(
        (head_y / MAX_HEAD_Y) ** 2,
        ((drop - TYPICAL_HEAD_DROP).clip(min=0) / (MAX_HEAD_DROP - TYPICAL_HEAD_DROP)) ** 2,
    )
    shortfall = np.log(np.minimum(ratio, TYPICAL_HEIGHT_RATIO) / TYPICAL_HEIGHT_RATIO)
    size_term = (shortfall / np.log(MIN_HEIGHT_RATIO / TYPICAL_HEIGHT_RATIO)) ** 2
    cost = (x_term + y_term + size_term) / 3
    if person_scores is not None:
        cost = cost + PERSON_SCORE_WEIGHT * (1 - person_scores.astype(np.float64)[None, :])
    inside = (
        (containment >= MIN_CONTAINMENT)
        & (below_top >= 0)
        & (x_term <= 1)
        & (y_term <= 1)
        & (size_term <= 1)
        & (face_w <= MAX_WIDTH_RATIO * person_w)
    )
    result: NDArray[np.float64] = np.where(inside, cost, np.inf)
    return result


def link_faces_to_persons(
    faces: NDArray[np.float32],
    persons: NDArray[np.float32],
    person_scores: NDArray[np.float32] | None = None,
) -> NDArray[np.int64]:
    """For each face box (xyxy), the index of the person box (xyxy) it is the head of, or
    -1: at most one face per person box, by optimal one-to-one assignment.

    A face may be linked to a box only where it sits as a head does, all gates at once:

    - at least MIN_CONTAINMENT (0.8) of the face's area inside the box;
    - the face centre below the box top, and within the top MAX_HEAD_Y (0.40) of the box
      height or at most MAX_HEAD_DROP (1.5) face heights below the box top (the second
      keeps the link for people seen from the chest up);
    - the face centre at most MAX_HEAD_X (0.75) half box widths off the box's centre line;
    - the face height at least MIN_HEIGHT_RATIO (0.08) of the box's longer side, and the
      face width at most MAX_WIDTH_RATIO (0.80) of the box width.

    Inside the gates `head_placement_cost` scores the fit, 0 to 1 (and, given
    `person_scores`, breaks near-ties towards the better-scored box); the assignment
    minimises the total cost over all faces, leaving a face unlinked costing
    UNLINKED_COST (0.5), so no link costs more than that.

    On the test photos every true pair of a face of 32 px or more links, and no
    spectator's face in players.jpg links to a player's box: those faces sit above the box
    tops, off the centre line, or at 0.049-0.078 of the box's longer side. Nor does the
    face of a person whose own box was not detected, whatever box is around it.

    -1 means "no person": such a face belongs to no track and must never be counted as
    an observation of one.
    """
    linked = np.full(len(faces), -1, np.int64)
    cost = head_placement_cost(faces, persons, person_scores)
    allowed = np.isfinite(cost)
    # Only faces and boxes with a candidate pair take part (in a crowd, few do).
    face_ids, person_ids = np.flatnonzero(allowed.any(axis=1)), np.flatnonzero(allowed.any(axis=0))
    if len(face_ids) == 0:
        return linked
    count = len(face_ids)
    # One "unlinked" column per face, so that leaving a face out is a choice with a price.
    unlinked = np.full((count, count), np.inf)
    np.fill_diagonal(unlinked, UNLINKED_COST)
    candidates = cost[np.ix_(face_ids, person_ids)]
    rows, cols = linear_assignment(np.concatenate([candidates, unlinked], axis=1))
    to_person = cols < len(person_ids)
    linked[face_ids[rows[to_person]]] = person_ids[cols[to_person]]
    return linked
