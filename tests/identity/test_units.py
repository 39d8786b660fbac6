"""The gates' building blocks on their own: voting, topology, companions, drift, registry
templates, calibration, encryption, audit log and configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from devservices.paths import REPO_ROOT
from identity.audit import AuditContext, JsonlAuditLog, audit, read_audit_log
from identity.calibrate import calibrate, main
from identity.companions import CompanionDetector
from identity.config import (
    CompanionConfig,
    DriftConfig,
    GalleryConfig,
    IdentityConfig,
    MatchConfig,
    RegistryConfig,
    TopologyConfig,
    TransitConfig,
)
from identity.crypto import (
    EMBEDDING_KEY_ENV,
    DecryptionError,
    EmbeddingCipher,
    MissingEmbeddingKeyError,
)
from identity.drift import DriftMonitor
from identity.metrics import IdentityMetrics
from identity.registry import ActiveIdentityRegistry, Sighting
from identity.topology import CameraTopology, Interval
from identity.vectors import unit_vector
from identity.voting import Vote, VoteWindow
from tests.identity.helpers import random_unit


def test_vote_needs_a_full_window_a_majority_and_a_high_mean() -> None:
    window = VoteWindow(size=5, required_votes=3, accept_mean=0.74)
    for _ in range(4):
        window.add(Vote("a", 0.9))
    assert window.tally().reason == "not_full"  # four strong votes are not enough
    window.add(Vote(None))
    tally = window.tally()
    assert tally.accepted and tally.leader == "a" and tally.votes == 4

    split = VoteWindow(5, 3, 0.74)
    for vote in [Vote("a", 0.9), Vote("b", 0.9), Vote("a", 0.9), Vote("b", 0.9), Vote(None)]:
        split.add(vote)
    assert split.tally().reason == "no_majority"

    weak = VoteWindow(5, 3, 0.74)
    for score in [0.73, 0.73, 0.75, 0.72, 0.73]:
        weak.add(Vote("a", score))
    assert weak.tally().reason == "low_confidence"  # every vote above 0.72, mean 0.732

    nobody = VoteWindow(5, 3, 0.74)
    for _ in range(7):
        nobody.add(Vote(None, 0.3))
    assert nobody.tally().reason == "no_match" and len(nobody) == 5

    assert window.drop_customer("a") == 4 and not window.mentions("a")


def test_topology_gates_transits_with_tolerance_and_overlap() -> None:
    topology = CameraTopology(
        TopologyConfig(
            transits=(
                TransitConfig(camera_a="A", camera_b="B", min_transit_s=10.0),
                TransitConfig(camera_a="A", camera_b="C", min_transit_s=5.0, bidirectional=False),
                TransitConfig(camera_a="A", camera_b="D", min_transit_s=0.0, overlapping=True),
            ),
            tolerance_s=0.5,
        )
    )
    seen_a = Interval("A", 0.0, 2.0)
    assert not topology.compatible(seen_a, Interval.point("B", 11.0)).ok  # 9 s < 10 s
    assert topology.compatible(seen_a, Interval.point("B", 11.6)).ok  # 9.6 s: tolerance
    assert topology.compatible(Interval.point("B", -9.6), seen_a).ok  # order independent
    assert not topology.compatible(Interval.point("B", -8.0), seen_a).ok
    assert not topology.compatible(seen_a, Interval.point("C", 5.0)).ok  # A -> C directed
    assert topology.compatible(Interval.point("C", -1.0), seen_a).ok  # C -> A not listed
    assert topology.compatible(seen_a, Interval("D", 1.0, 3.0)).ok  # overlapping views
    # One camera, two tracks at once: only an overlap within the tolerance is allowed.
    assert not topology.compatible(seen_a, Interval("A", 1.0, 3.0)).ok
    assert topology.compatible(seen_a, Interval("A", 1.6, 3.0)).ok
    verdict = topology.compatible(seen_a, Interval("B", 1.0, 4.0))
    assert not verdict.ok and verdict.gap_s == -1.0 and verdict.min_transit_s == 10.0


def test_companions_are_tracks_that_stay_together() -> None:
    detector = CompanionDetector(CompanionConfig(min_co_observations=5, time_tolerance_s=0.25))
    for i in range(10):
        t = i * 0.2
        x = 100 + 10 * i
        # 1 and 2 walk side by side; 3 is far away.
        assert not detector.is_companion("cam", 3) or i > 0
        detector.observe("cam", 1, t, (x, 100, x + 50, 250))
        detector.observe("cam", 2, t + 0.02, (x + 55, 100, x + 105, 250))
        detector.observe("cam", 3, t + 0.04, (900, 100, 950, 250))
    assert detector.is_companion("cam", 1) and detector.is_companion("cam", 2)
    assert not detector.is_companion("cam", 3)
    assert not detector.is_companion("other-cam", 1)

    # Passing each other once is not walking together.
    passer = CompanionDetector(CompanionConfig(min_co_observations=5))
    for i in range(10):
        passer.observe("cam", 1, i * 0.2, (100 + 40 * i, 100, 150 + 40 * i, 250))
        passer.observe("cam", 2, i * 0.2, (500 - 40 * i, 100, 550 - 40 * i, 250))
    assert not passer.is_companion("cam", 1)
    detector.forget("cam", 1)
    assert not detector.is_companion("cam", 1)


def test_drift_alerts_once_then_recovers() -> None:
    metrics = IdentityMetrics(CollectorRegistry())
    monitor = DriftMonitor(
        DriftConfig(baseline_mean=0.8, margin=0.08, window=20, min_samples=10), metrics
    )
    changes = [monitor.record("cam", 0.8) for _ in range(20)]
    assert not any(changes)
    changes = [monitor.record("cam", 0.6) for _ in range(20)]
    drifting = [c for c in changes if c is not None]
    assert [c.state for c in drifting] == ["drifting"]
    assert monitor.is_drifting("cam") and not monitor.is_drifting("other")
    assert (
        metrics.registry.get_sample_value("trinetra_identity_drift_alerts_total", {"camera": "cam"})
        == 1.0
    )
    recovered = [c for c in (monitor.record("cam", 0.8) for _ in range(20)) if c is not None]
    assert [c.state for c in recovered] == ["recovered"]
    mean = monitor.rolling_mean("cam")
    assert mean is not None and abs(mean - 0.8) < 1e-6


def test_registry_template_ema_and_camera_normalization() -> None:
    rng = np.random.default_rng(1)
    stored, sample, other = random_unit(rng, 3)
    registry = ActiveIdentityRegistry(RegistryConfig(ema_alpha=0.1, ema_min_score=0.85))
    registry.record("c1", Sighting("cam", 1, 0.0, 1.0, visit_id=uuid.uuid4()))
    registry.set_template("c1", stored)
    assert not registry.update_template("c1", sample, 0.84)  # below 0.85: no update
    assert registry.update_template("c1", sample, 0.9)
    identity = registry.get("c1")
    assert identity is not None and identity.template is not None
    expected = unit_vector(0.9 * stored + 0.1 * sample)
    assert np.allclose(identity.template, expected, atol=1e-6)
    assert abs(float(np.linalg.norm(identity.template)) - 1.0) < 1e-6
    assert registry.template_scores(other)["c1"] == pytest.approx(float(expected @ other), abs=1e-6)

    norm = ActiveIdentityRegistry(
        RegistryConfig(camera_normalization=True, camera_mean_min_samples=3)
    )
    bias = unit_vector(np.ones(512))
    probes = [unit_vector(v + 2 * bias) for v in random_unit(rng, 4)]
    outs = [norm.normalize("cam", p) for p in probes]
    assert all(np.array_equal(o, p) for o, p in zip(outs[:3], probes[:3], strict=True))
    mean = np.mean(probes[:3], axis=0)
    assert np.allclose(outs[3], unit_vector(probes[3] - mean), atol=1e-5)
    assert float(outs[3] @ bias) < float(probes[3] @ bias)  # the camera's bias is removed

    restored = ActiveIdentityRegistry(RegistryConfig())
    restored.restore(json.loads(json.dumps(registry.snapshot())))
    assert restored.get("c1") is not None and restored.sightings("c1")[0].track_id == 1
    assert registry.expire(now=1.0 + 1801.0) == ["c1"] and "c1" not in registry
    assert restored.forget("c1") and restored.get("c1") is None


def test_calibration_maximizes_f_half(tmp_path: Path) -> None:
    scores = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.5, 0.4, 0.3, 0.2, 0.72]
    labels = [True, True, True, True, False, True, True, False, False, False, False, False]
    result = calibrate(scores, labels, beta=0.5)
    # Above 0.75 everything is a true match: precision 1, recall 4/6; F0.5 = 0.909.
    # Down to 0.65 recall is 1 but two impostors get in: F0.5 = 0.811.
    assert result.threshold == pytest.approx(0.775)
    assert result.precision == 1.0 and result.recall == pytest.approx(4 / 6)
    assert result.f_beta == pytest.approx(1.25 * (4 / 6) / (0.25 + 4 / 6))
    assert calibrate(scores, labels, beta=2.0).threshold < 0.7  # recall-first would go lower

    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "score,label\n" + "".join(f"{s},{int(lb)}\n" for s, lb in zip(scores, labels, strict=True))
    )
    assert main([str(pairs), "--json"]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("0.9,yes\n")
    assert main([str(bad)]) == 2
    # The documented command line, as an operator would run it.
    run = subprocess.run(
        [sys.executable, "-m", "identity.calibrate", str(pairs)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    assert "threshold:  0.7750" in run.stdout
    assert "precision:  1.0000" in run.stdout and "recall:     0.6667" in run.stdout
    assert "F0.5:" in run.stdout


def test_cipher_needs_the_key_and_detects_tampering(tmp_path: Path) -> None:
    with pytest.raises(MissingEmbeddingKeyError, match=EMBEDDING_KEY_ENV):
        EmbeddingCipher.from_env({})
    with pytest.raises(MissingEmbeddingKeyError, match=EMBEDDING_KEY_ENV):
        EmbeddingCipher.from_env({EMBEDDING_KEY_ENV: "not-a-key"})
    key = EmbeddingCipher.generate_key()
    cipher = EmbeddingCipher.from_env({EMBEDDING_KEY_ENV: key})
    vector = np.arange(512, dtype=np.float32)
    path = tmp_path / "secret.bin"
    cipher.write_file(path, {"v": vector.tolist()})
    raw = path.read_bytes()
    assert vector.tobytes()[:64] not in raw and b"511.0" not in raw
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert cipher.read_file(path) == {"v": vector.tolist()}
    with pytest.raises(DecryptionError):
        EmbeddingCipher(EmbeddingCipher.generate_key()).read_file(path)


def test_audit_log_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "log.jsonl"
    log = JsonlAuditLog(path)
    audit(log, AuditContext("alice", "support ticket 7"), "lookup", "c1", {"embeddings": 2})
    log.close()
    again = JsonlAuditLog(path)  # reopening appends, never truncates
    audit(again, AuditContext("svc", "gating"), "search", None, {"candidates": ["c1"]})
    records = again.records()
    assert [(r.actor, r.action, r.customer_id, r.reason) for r in records] == [
        ("alice", "lookup", "c1", "support ticket 7"),
        ("svc", "search", None, "gating"),
    ]
    assert read_audit_log(path) == records and records[0].at.tzinfo is not None
    with pytest.raises(ValueError):
        AuditContext("alice", " ")


def test_config_is_strict_and_described() -> None:
    with pytest.raises(ValidationError):
        IdentityConfig.model_validate({"match": {"treshold": 0.7}})  # typo is an error
    with pytest.raises(ValidationError, match="not both"):
        GalleryConfig(url="http://qdrant:6333", path="/tmp/x")
    with pytest.raises(ValidationError):
        MatchConfig(window=5, min_votes=6)
    match = MatchConfig(camera_offsets={"dim": -0.03})
    assert match.threshold_for("dim") == pytest.approx(0.69)
    assert match.threshold_for("bright") == 0.72
    assert match.threshold_for("bright", companion=True) == 0.85
    assert match.required_votes == 3
    for model in (IdentityConfig, MatchConfig, GalleryConfig, RegistryConfig, TopologyConfig):
        assert all(f.description for f in model.model_fields.values()), model.__name__
