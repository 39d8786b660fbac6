"""Geometry: point in polygon (scalar and vectorized agree), sides, intersections."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.engine.geometry import (
    point_in_polygon,
    points_in_polygon,
    polygon_area,
    prepare_edges,
    segment_crossing_param,
    segment_side,
    segments_cross_properly,
    segments_intersect,
    self_intersection,
)

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
# an L: the notch (0.35..0.6, 0.2..0.4) is outside
ELL = ((0.2, 0.2), (0.35, 0.2), (0.35, 0.4), (0.6, 0.4), (0.6, 0.6), (0.2, 0.6))


def test_point_in_square_and_concave() -> None:
    edges = prepare_edges(SQUARE)
    assert point_in_polygon(0.4, 0.4, edges)
    assert not point_in_polygon(0.1, 0.4, edges)
    assert not point_in_polygon(0.4, 0.7, edges)
    ell = prepare_edges(ELL)
    assert point_in_polygon(0.25, 0.3, ell)
    assert not point_in_polygon(0.5, 0.3, ell)  # in the notch
    assert point_in_polygon(0.5, 0.5, ell)


@pytest.mark.parametrize("polygon", [SQUARE, ELL])
def test_vectorized_agrees_with_scalar_everywhere(polygon: tuple[tuple[float, float], ...]) -> None:
    rng = np.random.default_rng(3)
    points = rng.random((4000, 2))
    # include points exactly on vertices and edges: both versions must agree there too
    points = np.concatenate([points, np.asarray(polygon), np.asarray([[0.4, 0.2], [0.2, 0.4]])])
    edges = prepare_edges(polygon)
    expected = [point_in_polygon(float(x), float(y), edges) for x, y in points]
    assert points_in_polygon(points, np.asarray(polygon)).tolist() == expected


def test_area_sign_and_size() -> None:
    assert polygon_area(SQUARE) == pytest.approx(0.16)
    assert polygon_area(tuple(reversed(SQUARE))) == pytest.approx(-0.16)


def test_segment_side_image_convention() -> None:
    a, b = (0.0, 0.5), (1.0, 0.5)  # pointing right on screen
    assert segment_side(a, b, (0.5, 0.9)) > 0  # below on screen: right
    assert segment_side(a, b, (0.5, 0.1)) < 0  # above: left
    assert segment_side(a, b, (0.3, 0.5)) == 0


def test_segment_intersections() -> None:
    assert segments_intersect((0, 0), (1, 1), (0, 1), (1, 0))
    assert segments_cross_properly((0, 0), (1, 1), (0, 1), (1, 0))
    # touching at an endpoint: intersects, but not a proper crossing
    assert segments_intersect((0, 0), (1, 0), (1, 0), (1, 1))
    assert not segments_cross_properly((0, 0), (1, 0), (1, 0), (1, 1))
    # collinear overlap
    assert segments_intersect((0, 0), (2, 0), (1, 0), (3, 0))
    assert not segments_intersect((0, 0), (1, 0), (2, 0), (3, 0))
    assert not segments_intersect((0, 0), (1, 0), (0, 1), (1, 1))


def test_self_intersection_finds_the_edges() -> None:
    assert self_intersection(SQUARE) is None
    assert self_intersection(ELL) is None
    bowtie = ((0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5))
    assert self_intersection(bowtie) == (0, 2)


def test_crossing_param() -> None:
    hit = segment_crossing_param((0.5, 0.0), (0.5, 1.0), (0.4, 0.25), (0.6, 0.25))
    assert hit is not None
    s, u = hit
    assert s == pytest.approx(0.5)
    assert u == pytest.approx(0.25)
    assert segment_crossing_param((0.5, 0.0), (0.5, 1.0), (0.1, 0.2), (0.2, 0.2)) is None
