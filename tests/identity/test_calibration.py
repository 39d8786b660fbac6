"""Calibration for a target false-accept rate: exact binomial bounds, refusing to claim
what the data cannot show, the calibration file per embedder version, and how the
thresholds reach the configuration."""

from __future__ import annotations

import math
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from devservices.paths import REPO_ROOT
from identity import far
from identity.calibrate import calibrate_far, main
from identity.calibration import (
    CalibrationError,
    calibration_path,
    default_repository,
    load_calibration,
)
from identity.config import IdentityConfig, MatchConfig
from tests.identity.helpers import default_calibration


@pytest.mark.parametrize(("k", "n"), [(0, 10), (0, 2000), (1, 2000), (5, 300), (37, 1000)])
def test_bounds_are_clopper_pearson(k: int, n: int) -> None:
    # Independent reference: the beta-quantile form of the same bounds.
    assert far.upper_bound(k, n) == pytest.approx(stats.beta.ppf(0.95, k + 1, n - k), rel=1e-6)
    low, high = far.interval(k, n)
    reference_low = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
    assert low == pytest.approx(reference_low, rel=1e-6, abs=1e-12)
    assert high == pytest.approx(stats.beta.ppf(0.975, k + 1, n - k), rel=1e-6)


def test_rule_of_three() -> None:
    bound = far.upper_bound(0, 2000)
    assert bound == pytest.approx(2.9957 / 2000, rel=1e-3)  # -ln(0.05) / n: about 3 / n
    assert bound > 1e-5  # 2,000 clean pairs cannot show 1e-5
    needed = far.trials_needed(1e-5)
    assert needed == 299_572
    assert far.upper_bound(0, needed) <= 1e-5 < far.upper_bound(0, needed - 1)


def synthetic(impostors: int, genuine: int, seed: int = 3) -> tuple[list[float], list[bool]]:
    rng = np.random.default_rng(seed)
    scores = [*rng.normal(0.0, 0.09, impostors), *rng.normal(0.68, 0.08, genuine)]
    return [float(s) for s in scores], [False] * impostors + [True] * genuine


def test_too_few_impostor_pairs_are_refused_the_target_claim() -> None:
    scores, labels = synthetic(2000, 150)
    result = calibrate_far(scores, labels, target_far=1e-5)
    claim = result.far
    assert (claim.target_supported, claim.basis) == (False, "normal_tail")
    assert claim.false_accepts == 0 and claim.far_upper_bound == pytest.approx(
        far.upper_bound(0, 2000)
    )
    assert claim.impostor_pairs_needed == 299_572
    top = max(s for s, same in zip(scores, labels, strict=True) if not same)
    assert result.match_threshold > top  # never below the highest impostor score
    # The extrapolation lands near the true 1e-5 quantile of the impostor distribution.
    assert result.match_threshold == pytest.approx(stats.norm.ppf(1 - 1e-5, 0, 0.09), abs=0.05)
    assert result.consistency_threshold < result.match_threshold
    assert result.match_threshold <= result.accept_mean <= result.companion_threshold
    assert 0.99 <= result.recall.recall <= 1.0
    assert result.recall.lower < result.recall.recall <= result.recall.upper


def test_enough_impostor_pairs_support_the_target_from_the_data() -> None:
    scores, labels = synthetic(400_000, 50)
    result = calibrate_far(scores, labels, target_far=1e-5)
    assert (result.far.target_supported, result.far.basis) == (True, "observed")
    assert result.far.far_upper_bound <= 1e-5
    # 400,000 pairs support 1e-5 with no false accept, not with one (bound 1.19e-5).
    top = max(s for s, same in zip(scores, labels, strict=True) if not same)
    assert result.match_threshold == math.nextafter(top, math.inf)
    assert result.far.false_accepts == 0


def test_the_command_line_writes_a_loadable_calibration(tmp_path: Path) -> None:
    scores, labels = synthetic(2000, 150)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("".join(f"{s},{int(y)}\n" for s, y in zip(scores, labels, strict=True)))
    output = tmp_path / "face_embedder" / "7" / "calibration.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "identity.calibrate",
            str(pairs),
            "--target-far",
            "1e-5",
            "--version",
            "7",
            "--data-name",
            "synthetic",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    assert "refused:" in run.stdout and "299572" in run.stdout
    assert "claim:      FAR <= 0.0015" in run.stdout
    calibration = load_calibration(output, model="face_embedder", version=7)
    assert calibration.data.name == "synthetic" and "identity.calibrate" in calibration.produced_by
    assert not calibration.far.target_supported
    with pytest.raises(CalibrationError, match="version 7, not 8"):
        load_calibration(output, version=8)
    with pytest.raises(CalibrationError, match="no calibration"):
        load_calibration(tmp_path / "missing.json")
    assert main([str(pairs), "--target-far", "2"]) == 2  # a rate must be below 1


def test_the_default_embedder_carries_its_calibration_and_provenance() -> None:
    path = calibration_path(default_repository(), "face_embedder", 1)
    assert path == REPO_ROOT / "model_repository" / "face_embedder" / "1" / "calibration.json"
    calibration = default_calibration()
    weights = tomllib.loads((REPO_ROOT / "model_repository" / "weights.toml").read_text())
    assert calibration.weights_sha256 == weights["face_embedder"]["sha256"]
    assert calibration.far.target_far == 1e-5 and not calibration.far.target_supported
    assert calibration.far.far_upper_bound == pytest.approx(
        far.upper_bound(0, calibration.far.impostor_pairs)
    )
    assert calibration.data.identities == 13 and calibration.data.photos == 61
    assert (
        calibration.consistency_threshold
        < calibration.match_threshold
        <= calibration.accept_mean
        <= calibration.companion_threshold
    )
    # The seeds' ArcFace-R50 values do not belong to this embedder.
    assert calibration.match_threshold < 0.72


def test_calibration_fills_only_what_the_configuration_leaves_unset() -> None:
    calibration = default_calibration()
    plain = IdentityConfig().with_calibration(calibration)
    assert plain.match.threshold == calibration.match_threshold
    assert plain.match.accept_mean == calibration.accept_mean
    assert plain.match.companion_threshold == calibration.companion_threshold
    assert plain.consistency.min_similarity == calibration.consistency_threshold
    assert plain.drift.baseline_mean == calibration.genuine_median
    chosen = IdentityConfig(match=MatchConfig(threshold=0.5, camera_offsets={"dim": -0.03}))
    mixed = chosen.with_calibration(calibration)
    assert mixed.match.threshold == 0.5  # set explicitly: kept
    assert mixed.match.accept_mean == calibration.accept_mean
    assert mixed.match.threshold_for("dim") == pytest.approx(0.47)
    yaml_like = IdentityConfig.model_validate({"match": {"companion_threshold": 0.9}})
    assert yaml_like.with_calibration(calibration).match.companion_threshold == 0.9
