"""Threshold calibration from labelled pairs: the cosine threshold that maximizes F-beta
(beta 0.5 by default: precision weighs twice recall, the precision-first policy).

    python -m identity.calibrate pairs.csv [--beta 0.5] [--json]

`pairs.csv` has one pair per row: `score,label`, where score is the cosine similarity of
the two faces' embeddings and label is 1 (same person) or 0 (different people); a header
row (`score,label`) is optional, blank lines and `#` comments are skipped. A pair is
predicted "same" when score >= threshold.

Every distinct threshold is evaluated exactly (not a grid): predictions only change at
the observed scores. Among the thresholds with the best F-beta (ties go to the higher,
stricter cut) the chosen value is the midpoint between the highest negative-side score
and the lowest accepted score, so it sits in the middle of the gap rather than on a
sample.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Calibration:
    threshold: float
    precision: float
    recall: float
    f_beta: float
    beta: float
    true_positives: int
    false_positives: int
    false_negatives: int
    positives: int
    negatives: int


def f_beta(precision: float, recall: float, beta: float) -> float:
    if precision <= 0 and recall <= 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


def calibrate(scores: Sequence[float], labels: Sequence[bool], beta: float = 0.5) -> Calibration:
    """The F-beta-maximizing threshold for `scores` labelled same (True) / different."""
    if len(scores) != len(labels):
        raise ValueError("scores and labels differ in length")
    if beta <= 0:
        raise ValueError("beta must be positive")
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: p[0], reverse=True)
    if any(not math.isfinite(s) for s, _ in pairs):
        raise ValueError("scores must be finite")
    positives = sum(1 for _, same in pairs if same)
    negatives = len(pairs) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("need both same-person and different-person pairs")
    best: Calibration | None = None
    tp = fp = 0
    i = 0
    while i < len(pairs):
        # Accept every pair with score >= pairs[i].score (all of a tied score at once).
        score = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == score:
            tp += pairs[i][1]
            fp += not pairs[i][1]
            i += 1
        precision = tp / (tp + fp)
        recall = tp / positives
        f = f_beta(precision, recall, beta)
        below = pairs[i][0] if i < len(pairs) else None
        threshold = score if below is None else (score + below) / 2
        if best is None or f > best.f_beta:  # strictly better: ties keep the higher cut
            best = Calibration(
                threshold=threshold,
                precision=precision,
                recall=recall,
                f_beta=f,
                beta=beta,
                true_positives=tp,
                false_positives=fp,
                false_negatives=positives - tp,
                positives=positives,
                negatives=negatives,
            )
    assert best is not None
    return best


def read_pairs(path: Path) -> tuple[list[float], list[bool]]:
    scores: list[float] = []
    labels: list[bool] = []
    with path.open(newline="") as file:
        for n, row in enumerate(csv.reader(file), start=1):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            if n == 1 and cells[0].lower() == "score":
                continue
            if len(cells) < 2:
                raise ValueError(f"{path}:{n}: expected score,label")
            try:
                score = float(cells[0])
            except ValueError:
                raise ValueError(f"{path}:{n}: score {cells[0]!r} is not a number") from None
            if cells[1] not in ("0", "1"):
                raise ValueError(f"{path}:{n}: label must be 0 or 1, got {cells[1]!r}")
            scores.append(score)
            labels.append(cells[1] == "1")
    return scores, labels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m identity.calibrate",
        description="Choose the match threshold maximizing F-beta on labelled pairs.",
    )
    parser.add_argument("pairs", type=Path, help="CSV of score,label (1 same, 0 different)")
    parser.add_argument("--beta", type=float, default=0.5, help="F-beta beta (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        scores, labels = read_pairs(args.pairs)
        result = calibrate(scores, labels, args.beta)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(f"pairs:      {result.positives} same, {result.negatives} different")
        print(f"threshold:  {result.threshold:.4f}")
        print(f"precision:  {result.precision:.4f}")
        print(f"recall:     {result.recall:.4f}")
        print(f"F{result.beta:g}:       {result.f_beta:.4f}")
        print(
            f"confusion:  TP {result.true_positives}  FP {result.false_positives}  "
            f"FN {result.false_negatives}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
