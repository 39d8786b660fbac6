"""The false-merge path closed in the gate, on real faces (real Triton pipeline, real
Qdrant gallery in memory) with the default embedder's calibrated thresholds: low-quality
faces never vote, a track whose faces alternate between two people is contradicted and
never resolved, and when the tracker switches ids the identity follows the face."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from identity.config import ConsistencyConfig
from identity.gate import Decision, Observation
from identity.outcomes import FalseMerge, Resolved, Unknown, Withdrawn
from identity.quality import FaceMeasures
from tests.identity.conftest import FaceSet
from tests.identity.helpers import (
    CTX,
    OBAMA,
    Rig,
    at,
    calibrated,
    cycle,
    default_calibration,
    metric,
    rig,
)

pytestmark = pytest.mark.timeout(120)

Vector = NDArray[np.float32]


@dataclass(frozen=True)
class Person:
    """Someone enrolled from one face and observed (with the detector's measurements)
    through other faces of theirs."""

    name: str
    enrolled: Vector
    seen: tuple[tuple[Vector, FaceMeasures], ...]


def people(faces: FaceSet) -> list[Person]:
    """Obama (enrolled from obama.jpg, seen in his two partial-face photos), Biden and five
    of t1's six (enrolled from a crop, seen in the group photo). t1's man looking over his
    shoulder (face 3) is left out: the quality gate refuses his face, so it is no evidence
    either way."""

    def seen(image: str, index: int = 0) -> tuple[Vector, FaceMeasures]:
        return faces.embeddings[image][index], faces.measures[image][index]

    out = [
        Person(
            OBAMA,
            faces.one("obama.jpg"),
            (seen("obama_partial_face.jpg"), seen("obama_partial_face2.jpg")),
        ),
        Person("biden", faces.one("biden.jpg"), (seen("biden.jpg"),)),
    ]
    for i in (0, 1, 2, 4, 5):
        out.append(Person(f"t1-{i}", faces.t1_crop_embeddings[i], (seen("t1.jpg", i),)))
    return out


def feed(
    r: Rig, camera: str, track: int, faces: list[tuple[Vector, FaceMeasures]], start: float
) -> list[Decision]:
    """A track showing `faces` (embedding and measurements), one every 0.2 s."""
    embeddings = [e for e, _ in faces]
    return r.feed(camera, track, embeddings, start=start, measures=[m for _, m in faces])


def test_a_low_quality_face_never_votes(faces: FaceSet) -> None:
    r = rig(calibrated())
    r.gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment")
    far, measures = faces.far_partial, faces.far_partial_measures
    size = min(measures.box[2] - measures.box[0], measures.box[3] - measures.box[1])
    assert size < r.gate.config.quality.min_size_px  # his face at 1/5 size: ~38 px
    # Its score would be a strong vote: only the quality gate stands in the way.
    assert float(far @ faces.one("obama.jpg")) > default_calibration().accept_mean
    decisions = r.feed("entrance", 1, [far] * 10, start=0.0, measures=[measures] * 10)
    assert all(d.vote is None and d.vote_reason == "low_quality" for d in decisions)
    assert all(d.customer_id is None and d.status == "pending" for d in decisions)
    assert not r.outcomes()  # not even an unknown decision: nothing was evidence
    assert (
        metric(
            r.metrics,
            "trinetra_identity_low_quality_faces_total",
            camera="entrance",
            reason="too_small",
        )
        == 10
    )
    assert r.gate.visit_templates(decisions[-1].visit_id) == 0  # nor a visit template

    # A turned face (t1's man looking over his shoulder, yaw -0.62) never votes either.
    r.gallery.add("t1-3", faces.t1_crop_embeddings[3], ctx=CTX, camera_id="enrollment")
    turned = faces.embeddings["t1.jpg"][3], faces.measures["t1.jpg"][3]
    refused = feed(r, "entrance", 2, [turned] * 6, start=10.0)
    assert all(d.vote_reason == "low_quality" and d.customer_id is None for d in refused)

    # Control: the same faces sent without measurements (a sender vouching for them) do
    # vote and resolve, so it is the gate that kept them out above.
    vouched = r.feed("entrance", 3, [far] * 5, start=60.0)
    assert vouched[0].vote == OBAMA and vouched[-1].customer_id == OBAMA
    unmeasured = r.feed("checkout", 4, [turned[0]] * 5, start=200.0)
    assert unmeasured[-1].customer_id == "t1-3"


def test_alternating_faces_track_is_never_resolved_and_is_reported_as_contradicted(
    faces: FaceSet,
) -> None:
    """The issue's replay, for every ordered pair of people: a track whose linked faces
    alternate between its own face (not enrolled) and an enrolled bystander's. Starting
    with either face, the track is contradicted at the first face of the other person,
    never resolves, and says so once."""
    everyone = people(faces)
    scenarios = 0
    for own, bystander in itertools.permutations(everyone, 2):
        for first in (own, bystander):
            second = bystander if first is own else own
            r = rig(calibrated())
            r.gallery.add(bystander.name, bystander.enrolled, ctx=CTX, camera_id="enrollment")
            track = [
                first.seen[i % len(first.seen)] if i % 2 == 0 else second.seen[0] for i in range(20)
            ]
            decisions = feed(r, "entrance", 1, track, start=0.0)
            label = f"{own.name} with {bystander.name}, {first.name} first"
            assert not [o for o in r.outcomes() if isinstance(o, Resolved)], label
            assert all(d.customer_id is None for d in decisions), label
            assert [d.status for d in decisions[1:]] == ["contradicted"] * 19, label
            (report,) = [o for o in r.outcomes() if isinstance(o, Unknown)]
            assert (report.reason, report.contradiction) == ("contradicted", "face_changed"), label
            assert all(d.vote is None for d in decisions[1:]), label
            scenarios += 1
    assert scenarios == 2 * 7 * 6
    assert (
        metric(r.metrics, "trinetra_identity_contradicted_tracks_total", reason="face_changed") == 1
    )


def test_a_bystander_visible_on_their_own_track_contradicts_the_track_showing_their_face(
    faces: FaceSet,
) -> None:
    """With the bystander on a track of their own, their face on another track might be an
    ID switch: the vote is held, and the bystander's own track, still showing them, settles
    it: contradicted."""
    r = rig(calibrated())
    r.gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment")
    obama = [
        (faces.embeddings[n][0], faces.measures[n][0])
        for n in ("obama_partial_face.jpg", "obama_partial_face2.jpg")
    ]
    biden = (faces.one("biden.jpg"), faces.measures["biden.jpg"][0])
    feed(r, "entrance", 2, cycle(obama, 6), start=0.0)  # Obama on his own track
    assert r.gate.assignment("entrance", 2) == OBAMA
    # Track 1: Biden, then Obama's face in alternate frames while Obama is on track 2.
    for i in range(8):
        feed(r, "entrance", 1, [biden if i % 2 == 0 else obama[0]], start=2.0 + 0.2 * i)
        feed(r, "entrance", 2, [obama[i % 2]], start=2.05 + 0.2 * i)
    mine = [d for d in r.decisions if d.track_id == 1]
    assert mine[1].vote_reason == "switch_pending"
    assert mine[-1].status == "contradicted" and r.gate.assignment("entrance", 1) is None
    assert r.gate.assignment("entrance", 2) == OBAMA  # his own track keeps him
    assert not [o for o in r.outcomes() if isinstance(o, Withdrawn | FalseMerge)]
    assert metric(r.metrics, "trinetra_identity_id_switches_total", kind="swap") == 0


def test_votes_for_two_customers_contradict_the_track(faces: FaceSet) -> None:
    # Face consistency off, to see the second rule on its own.
    r = rig(calibrated(consistency=ConsistencyConfig(enabled=False)))
    r.gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment")
    r.gallery.add("t1-0", faces.t1_crop_embeddings[0], ctx=CTX, camera_id="enrollment")
    obama = (
        faces.embeddings["obama_partial_face.jpg"][0],
        faces.measures["obama_partial_face.jpg"][0],
    )
    t1 = (faces.embeddings["t1.jpg"][0], faces.measures["t1.jpg"][0])
    resolved = feed(r, "entrance", 1, [obama] * 5, start=0.0)
    assert resolved[-1].customer_id == OBAMA
    after = feed(r, "entrance", 1, [t1, obama, obama], start=1.0)
    assert [d.status for d in after] == ["contradicted"] * 3
    assert all(d.customer_id is None for d in after)
    withdrawn = [o for o in r.outcomes() if isinstance(o, Withdrawn)]
    assert [(w.customer_id, w.reason) for w in withdrawn] == [(OBAMA, "contradicted")]
    report = [o for o in r.outcomes() if isinstance(o, Unknown)]
    assert [(u.reason, u.contradiction) for u in report] == [("contradicted", "two_candidates")]
    assert r.gate.registry.sightings(OBAMA) == []


def test_when_the_tracker_swaps_ids_the_identity_follows_the_face(faces: FaceSet) -> None:
    r = rig(calibrated())
    r.gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment")
    r.gallery.add("biden", faces.one("biden.jpg"), ctx=CTX, camera_id="enrollment")
    obama = [
        (faces.embeddings[n][0], faces.measures[n][0])
        for n in ("obama_partial_face.jpg", "obama_partial_face2.jpg")
    ]
    biden = (faces.one("biden.jpg"), faces.measures["biden.jpg"][0])
    for i in range(6):
        feed(r, "entrance", 1, [obama[i % 2]], start=0.2 * i)
        feed(r, "entrance", 2, [biden], start=0.2 * i + 0.05)
    assert (r.gate.assignment("entrance", 1), r.gate.assignment("entrance", 2)) == (OBAMA, "biden")
    visits = (r.gate.visit_id("entrance", 1), r.gate.visit_id("entrance", 2))
    before = len(r.outcomes())
    # They cross; the tracker swaps their ids.
    first = feed(r, "entrance", 1, [biden], start=2.0)
    assert first[0].vote_reason == "switch_pending" and first[0].customer_id == OBAMA
    second = feed(r, "entrance", 2, [obama[0]], start=2.05)
    assert second[0].customer_id == OBAMA
    assert (r.gate.assignment("entrance", 1), r.gate.assignment("entrance", 2)) == ("biden", OBAMA)
    assert (r.gate.visit_id("entrance", 2), r.gate.visit_id("entrance", 1)) == visits
    changes = r.outcomes()[before:]
    withdrawn = {
        (o.track.track_id, o.customer_id, o.reason) for o in changes if isinstance(o, Withdrawn)
    }
    assert withdrawn == {(1, OBAMA, "id_switch"), (2, "biden", "id_switch")}
    announced = {(o.track.track_id, o.customer_id) for o in changes if isinstance(o, Resolved)}
    assert announced == {(1, "biden"), (2, OBAMA)}
    # Nothing is contradicted or merged, and both keep going.
    for i in range(4):
        feed(r, "entrance", 1, [biden], start=2.2 + 0.2 * i)
        feed(r, "entrance", 2, [obama[i % 2]], start=2.25 + 0.2 * i)
    assert {d.status for d in r.decisions[-8:]} == {"resolved"}
    assert not [o for o in r.outcomes() if isinstance(o, FalseMerge)]
    assert metric(r.metrics, "trinetra_identity_id_switches_total", kind="swap") == 1


def test_a_new_tracker_id_takes_over_the_face_of_a_track_just_lost(faces: FaceSet) -> None:
    r = rig(calibrated())
    r.gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment")
    obama = [
        (faces.embeddings[n][0], faces.measures[n][0])
        for n in ("obama_partial_face.jpg", "obama_partial_face2.jpg")
    ]
    feed(r, "entrance", 1, cycle(obama, 6), start=0.0)
    visit = r.gate.visit_id("entrance", 1)
    r.gate.end_track("entrance", 1, at(1.0))
    # 2 s later the tracker sees him again under a new id: resolved at the first face.
    (again,) = feed(r, "entrance", 9, [obama[0]], start=3.0)
    assert again.customer_id == OBAMA and again.visit_id == visit
    (event,) = [o for o in again.outcomes if isinstance(o, Resolved)]
    assert (event.track.track_id, event.track.visit_id) == (9, visit)
    assert metric(r.metrics, "trinetra_identity_id_switches_total", kind="takeover") == 1
    # After the reconciliation window a new track votes from scratch.
    r.gate.end_track("entrance", 9, at(3.0))
    (late,) = feed(r, "entrance", 10, [obama[0]], start=20.0)
    assert late.status == "pending" and late.visit_id != visit
    # The reconciler only works within a camera.
    r.gate.end_track("entrance", 10, at(20.0))
    (elsewhere,) = feed(r, "checkout", 11, [obama[1]], start=60.5)
    assert elsewhere.status == "pending"
    assert not [o for o in r.outcomes() if isinstance(o, FalseMerge)]


def test_observations_of_another_embedder_version_never_vote(faces: FaceSet) -> None:
    r = rig(calibrated())
    gate = r.gate
    gate.embedder_version = "1"
    r.gallery.add(OBAMA, faces.one("obama.jpg"), ctx=CTX, camera_id="enrollment")
    probe = faces.one("obama_partial_face.jpg")
    for i in range(6):
        wrong = gate.observe(
            Observation("entrance", 1, at(0.2 * i), (probe,), embedder_version="2")
        )
        assert wrong.vote_reason == "wrong_model" and wrong.customer_id is None
    right = [
        gate.observe(Observation("entrance", 2, at(60 + 0.2 * i), (probe,), embedder_version="1"))
        for i in range(5)
    ]
    assert right[-1].customer_id == OBAMA
    assert (
        metric(r.metrics, "trinetra_identity_wrong_model_observations_total", camera="entrance")
        == 6
    )
