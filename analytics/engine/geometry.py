"""Plane geometry for zones and lines: point in polygon, side of a segment, intersections.

Coordinates are image coordinates: x grows to the right, y grows *downwards*. That flips
the usual sense of rotation, so the sign conventions are spelled out where they matter
(`segment_side`).

Two flavours of point-in-polygon exist on purpose: `point_in_polygon` is a plain Python
loop over precomputed edges, because for one point and a handful of vertices that beats
any numpy call (numpy's per-call overhead is a few microseconds); `points_in_polygon` is
vectorized for many points at once (building the zone lookup grid, tests). Both use the
same crossing-number rule with the same half-open edge convention, so they agree on every
point, boundaries included.

Orientation, segment intersection and the simple-polygon check are shared with
configuration validation and live in `trinetra.config.geometry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

# What configuration validation also needs lives in the contracts package; re-exported so
# the engine's modules have one geometry module to import from.
from trinetra.config.geometry import (
    Point,
    cross,
    polygon_area,
    segments_cross_properly,
    segments_intersect,
    self_intersection,
)

__all__ = [
    "Edge",
    "Point",
    "cross",
    "point_in_polygon",
    "points_in_polygon",
    "polygon_area",
    "prepare_edges",
    "segment_crossing_param",
    "segment_side",
    "segments_cross_properly",
    "segments_intersect",
    "self_intersection",
]

# One polygon edge prepared for the crossing-number test: (x0, y0, y1, dx/dy). A
# horizontal edge never straddles a horizontal ray, so its slope is stored as 0.0.
Edge = tuple[float, float, float, float]


def segment_side(a: Point, b: Point, p: Point) -> float:
    """Which side of the directed segment a -> b the point p lies on, as seen in the image.

    Positive: p is on the *right* of a -> b; negative: on the left; zero: on the line.
    "Right" is as a person standing on the image at `a`, facing `b`, would say with the
    image viewed normally (y down): for a = (0, 0.5), b = (1, 0.5) the lower half of the
    image is on the right. (In y-up maths coordinates the same sign would mean "left";
    the flip is the y axis pointing down.)
    """
    return cross(a, b, p)


def prepare_edges(vertices: Sequence[Point]) -> tuple[Edge, ...]:
    """Edges in the form `point_in_polygon` wants, computed once per zone."""
    n = len(vertices)
    out: list[Edge] = []
    for i in range(n):
        x0, y0 = vertices[i]
        x1, y1 = vertices[(i + 1) % n]
        slope = (x1 - x0) / (y1 - y0) if y1 != y0 else 0.0
        out.append((x0, y0, y1, slope))
    return tuple(out)


def point_in_polygon(x: float, y: float, edges: Sequence[Edge]) -> bool:
    """Crossing-number test of one point against edges from `prepare_edges`.

    A ray from the point towards +x toggles "inside" at every edge it crosses; an edge
    counts when exactly one of its ends lies strictly below the point (y0 > y) != (y1 > y),
    which makes vertices and horizontal edges count once, consistently.
    """
    inside = False
    for x0, y0, y1, slope in edges:
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * slope:
            inside = not inside
    return inside


def points_in_polygon(
    points: NDArray[np.floating[Any]], vertices: NDArray[np.floating[Any]]
) -> NDArray[np.bool_]:
    """`point_in_polygon` for an (n, 2) array of points against an (m, 2) polygon, with
    the same rule, vectorized over points and edges: (n, m) work, fine for thousands."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(vertices, dtype=np.float64).reshape(-1, 2)
    x = pts[:, 0:1]
    y = pts[:, 1:2]
    x0 = poly[:, 0][None, :]
    y0 = poly[:, 1][None, :]
    x1 = np.roll(poly[:, 0], -1)[None, :]
    y1 = np.roll(poly[:, 1], -1)[None, :]
    dy = y1 - y0
    slope = np.divide(x1 - x0, dy, out=np.zeros_like(dy), where=dy != 0)
    straddles = (y0 > y) != (y1 > y)
    left_of_edge = x < x0 + (y - y0) * slope
    crossings = np.count_nonzero(straddles & left_of_edge, axis=1)
    result: NDArray[np.bool_] = (crossings % 2) == 1
    return result


def segment_crossing_param(a: Point, b: Point, p0: Point, p1: Point) -> tuple[float, float] | None:
    """Where the motion p0 -> p1 crosses the infinite line through a and b.

    Returns (s, u): s in [0, 1] is how far along the motion the crossing happens, u how
    far along a -> b (0 at a, 1 at b; outside [0, 1] means beyond the segment's ends).
    None when the motion does not change side (or runs along the line).
    """
    d0 = cross(a, b, p0)
    d1 = cross(a, b, p1)
    if (d0 > 0) == (d1 > 0) or d0 == d1:
        return None
    s = d0 / (d0 - d1)
    cx = p0[0] + (p1[0] - p0[0]) * s
    cy = p0[1] + (p1[1] - p0[1]) * s
    dx, dy = b[0] - a[0], b[1] - a[1]
    u = ((cx - a[0]) * dx + (cy - a[1]) * dy) / (dx * dx + dy * dy)
    return s, u
