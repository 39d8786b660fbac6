"""Anonymous visitors on real faces (real Triton pipeline): tracks of one unknown person
on different cameras share one visit id, two people never do, the spatiotemporal gate
applies, and a visit's templates die with the visit or on erasure, never leaving memory."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from numpy.typing import NDArray

from identity.config import TopologyConfig, TransitConfig, VisitConfig
from identity.outcomes import Unknown
from identity.quality import FaceMeasures
from tests.identity.conftest import FaceSet
from tests.identity.helpers import (
    CTX,
    TOPOLOGY,
    Rig,
    calibrated,
    cycle,
    metric,
    rig,
)

pytestmark = pytest.mark.timeout(120)

Vector = NDArray[np.float32]
Seen = tuple[Vector, FaceMeasures]


def seen(faces: FaceSet, *images: str) -> list[Seen]:
    return [(faces.embeddings[n][0], faces.measures[n][0]) for n in images]


def walk(r: Rig, camera: str, track: int, shown: list[Seen], start: float, n: int = 6) -> uuid.UUID:
    """A track showing `shown` in turn, then lost by the tracker; its visit id."""
    faces = cycle(shown, n)
    decisions = r.feed(
        camera, track, [e for e, _ in faces], start=start, measures=[m for _, m in faces]
    )
    r.end(camera, track, start + 0.2 * n)
    return decisions[-1].visit_id


def unknowns(r: Rig) -> dict[int, Unknown]:
    return {o.track.track_id: o for o in r.outcomes() if isinstance(o, Unknown)}


def test_an_unknown_person_gets_one_visit_id_across_cameras(faces: FaceSet) -> None:
    r = rig(calibrated())
    r.gallery.add("someone-else", faces.t1_crop_embeddings[0], ctx=CTX, camera_id="enrollment")
    obama = seen(faces, "obama_partial_face.jpg", "obama_partial_face2.jpg")
    # Obama (not enrolled) at the entrance, then 40 s later at the checkout (30 s away),
    # seen there in two other photos of him, then back at the entrance.
    entrance = walk(r, "entrance", 1, obama, start=0.0)
    checkout = walk(r, "checkout", 2, seen(faces, "obama2.jpg", "obama3.jpg"), start=40.0)
    back = walk(r, "entrance", 3, obama[::-1], start=90.0)
    assert entrance == checkout == back
    reports = unknowns(r)
    assert {t: (u.track.visit_id, u.track.visit_scope) for t, u in reports.items()} == {
        1: (entrance, "linked"),
        2: (entrance, "linked"),
        3: (entrance, "linked"),
    }
    # Biden, later at the checkout: a visit of his own.
    biden = walk(r, "checkout", 4, seen(faces, "biden.jpg"), start=150.0)
    assert biden != entrance and unknowns(r)[4].track.visit_scope == "linked"
    assert metric(r.metrics, "trinetra_identity_visits_linked_total", result="joined") == 2
    assert metric(r.metrics, "trinetra_identity_visits_linked_total", result="new") == 2


def test_two_different_unknown_people_never_share_a_visit(faces: FaceSet) -> None:
    r = rig(calibrated())
    people = [seen(faces, "obama_partial_face.jpg"), seen(faces, "biden.jpg")]
    people += [
        [(faces.embeddings["t1.jpg"][i], faces.measures["t1.jpg"][i])] for i in (0, 1, 2, 4, 5)
    ]
    visits: dict[int, set[uuid.UUID]] = {}
    track = 0
    for lap in range(2):  # everyone passes every camera, one after another, twice
        for camera in ("entrance", "aisle", "checkout"):
            for person, shown in enumerate(people):
                track += 1
                start = 1000.0 * lap + 300.0 * ("entrance", "aisle", "checkout").index(camera)
                visit = walk(r, camera, track, shown, start=start + 20.0 * person)
                visits.setdefault(person, set()).add(visit)
    assert all(len(v) == 1 for v in visits.values()), visits  # each person: one visit
    assert len(set().union(*visits.values())) == len(people)  # no two people share one


def test_the_spatiotemporal_gate_keeps_impossible_visits_apart(faces: FaceSet) -> None:
    r = rig(calibrated())
    obama = seen(faces, "obama_partial_face.jpg", "obama_partial_face2.jpg")
    first = walk(r, "entrance", 1, obama, start=0.0)
    # The same face at the checkout 5 s later: 30 s away, so not the same person's visit.
    too_soon = walk(r, "checkout", 2, obama, start=6.0)
    assert too_soon != first
    assert (
        metric(
            r.metrics,
            "trinetra_spatiotemporal_gate_rejections_total",
            reason="visit_impossible_transition",
        )
        >= 3
    )


def test_erasing_a_visit_removes_its_templates(faces: FaceSet) -> None:
    r = rig(calibrated())
    obama = seen(faces, "obama_partial_face.jpg", "obama_partial_face2.jpg")
    visit = walk(r, "entrance", 1, obama, start=0.0)
    faces_now = cycle(obama, 6)
    live = r.feed(
        "aisle", 2, [e for e, _ in faces_now], start=3.0, measures=[m for _, m in faces_now]
    )
    assert live[-1].visit_id == visit
    # The visit's template, live track 2's own, and just-ended track 1's (kept for the
    # ID-switch reconciler for 10 s).
    assert r.gate.visit_templates(visit) == 3
    erased = r.gate.erase_visit(visit)
    assert (erased.found, erased.templates_removed, erased.tracks) == (True, 3, 2)
    assert r.gate.visit_templates(visit) == 0
    assert visit not in r.gate.visits.gallery and len(r.gate.visits.gallery) == 0
    # The live track keeps its id but takes no further part; the same face later is a
    # new visit, not the erased one.
    after = r.feed("aisle", 2, [obama[0][0]], start=5.0, measures=[obama[0][1]])
    assert after[0].vote_reason == "erased" and after[0].visit_id == visit
    again = walk(r, "checkout", 3, obama, start=120.0)
    assert again != visit
    assert r.gate.erase_visit(uuid.uuid4()).found is False
    assert metric(r.metrics, "trinetra_identity_visits_erased_total") == 1


def test_visit_templates_end_with_the_visit_and_never_leave_memory(faces: FaceSet) -> None:
    r = rig(calibrated(visits=VisitConfig(gap_s=60.0)))
    obama = seen(faces, "obama_partial_face.jpg", "obama_partial_face2.jpg")
    visit = walk(r, "entrance", 1, obama, start=0.0)
    assert r.gate.visit_templates(visit) >= 1
    # Not seen for more than the gap: the visit has ended, its templates with it.
    later = walk(r, "entrance", 2, seen(faces, "biden.jpg"), start=120.0)
    assert r.gate.visit_templates(visit) == 0 and later != visit
    # The same face after the visit ended starts a new visit.
    current = walk(r, "checkout", 3, obama, start=200.0)
    assert current not in (visit, later)
    # Nothing about visits is in the registry snapshot (the only state ever written).
    snapshot = json.dumps(r.gate.registry.snapshot())
    assert all(str(v) not in snapshot for v in (visit, later, current))
    held = r.gate.visits.gallery.get(current)
    assert held is not None and "template" not in repr(held)  # no log line can carry it
    # The gap may not exceed 4 h.
    with pytest.raises(ValueError):
        VisitConfig(gap_s=5 * 3600)


def test_overlapping_cameras_may_link_one_person_seen_at_once(faces: FaceSet) -> None:
    topology = TopologyConfig(
        transits=(
            *TOPOLOGY.transits,
            TransitConfig(
                camera_a="entrance", camera_b="door", min_transit_s=0.0, overlapping=True
            ),
        )
    )
    r = rig(calibrated(topology=topology))
    # Both tracks start a visit at their 5th face (neither saw the other's yet); the next
    # window merges the younger into the older.
    obama = cycle(seen(faces, "obama_partial_face.jpg", "obama_partial_face2.jpg"), 10)
    for i, (embedding, measures) in enumerate(obama):
        for camera, track, offset in (("entrance", 1, 0.0), ("door", 2, 0.05)):
            r.feed(camera, track, [embedding], start=i * 0.2 + offset, measures=[measures])
    entrance, door = r.gate.visit_id("entrance", 1), r.gate.visit_id("door", 2)
    assert entrance == door and entrance is not None
    # Without the overlap the two simultaneous tracks could not be one person.
    apart = rig(calibrated())
    for i, (embedding, measures) in enumerate(obama):
        for camera, track, offset in (("entrance", 1, 0.0), ("door", 2, 0.05)):
            apart.feed(camera, track, [embedding], start=i * 0.2 + offset, measures=[measures])
    assert apart.gate.visit_id("entrance", 1) != apart.gate.visit_id("door", 2)
