"""The numpy Hungarian solver against scipy's linear_sum_assignment."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from ensembles.ops.assignment import linear_assignment


@pytest.mark.parametrize("seed", range(5))
def test_same_total_cost_as_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        rows, cols = rng.integers(1, 9, size=2)
        cost = rng.random((rows, cols)) * rng.choice([1.0, 50.0])
        if rng.random() < 0.5:
            cost = np.round(cost, 1)  # ties
        got_rows, got_cols = linear_assignment(cost)
        want_rows, want_cols = linear_sum_assignment(cost)
        assert len(got_rows) == min(rows, cols)
        assert len(set(got_cols.tolist())) == len(got_cols)
        assert (np.diff(got_rows) > 0).all()
        assert cost[got_rows, got_cols].sum() == pytest.approx(cost[want_rows, want_cols].sum())


def test_forbidden_pairs_are_never_used_and_do_not_cost_pairs() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        rows, cols = rng.integers(1, 8, size=2)
        cost = rng.random((rows, cols))
        forbidden = rng.random((rows, cols)) < 0.5
        got_rows, got_cols = linear_assignment(np.where(forbidden, np.inf, cost))
        assert not forbidden[got_rows, got_cols].any()
        # scipy on a big-M matrix: the most allowed pairs, then the least cost
        want_rows, want_cols = linear_sum_assignment(np.where(forbidden, 1e9, cost))
        allowed = ~forbidden[want_rows, want_cols]
        assert len(got_rows) == allowed.sum()
        assert cost[got_rows, got_cols].sum() == pytest.approx(
            cost[want_rows[allowed], want_cols[allowed]].sum()
        )


def test_a_better_total_beats_greedy() -> None:
    # greedy would take (0, 0) at 1 and be left with (1, 1) at 10
    rows, cols = linear_assignment(np.array([[1.0, 2.0], [2.0, 10.0]]))
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_edge_cases() -> None:
    for shape in [(0, 0), (0, 3), (3, 0)]:
        rows, cols = linear_assignment(np.zeros(shape))
        assert rows.shape == cols.shape == (0,)
    rows, cols = linear_assignment(np.full((2, 3), np.inf))
    assert len(rows) == 0
    with pytest.raises(ValueError, match="NaN"):
        linear_assignment(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="2-d"):
        linear_assignment(np.zeros(3))
