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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Point = tuple[float, float]
# One polygon edge prepared for the crossing-number test: (x0, y0, y1, dx/dy). A
# horizontal edge never straddles a horizontal ray, so its slope is stored as 0.0.
Edge = tuple[float, float, float, float]

_EPS = 1e-12


def polygon_area(vertices: Sequence[Point]) -> float:
    """Signed area (shoelace). Positive when the vertices run clockwise *on screen*
    (counter-clockwise in y-up coordinates)."""
    n = len(vertices)
    total = 0.0
    for i in range(n):
        x0, y0 = vertices[i]
        x1, y1 = vertices[(i + 1) % n]
        total += x0 * y1 - x1 * y0
    return total / 2.0


def cross(o: Point, a: Point, b: Point) -> float:
    """z component of (a - o) x (b - o)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segment_side(a: Point, b: Point, p: Point) -> float:
    """Which side of the directed segment a -> b the point p lies on, as seen in the image.

    Positive: p is on the *right* of a -> b; negative: on the left; zero: on the line.
    "Right" is as a person standing on the image at `a`, facing `b`, would say with the
    image viewed normally (y down): for a = (0, 0.5), b = (1, 0.5) the lower half of the
    image is on the right. (In y-up maths coordinates the same sign would mean "left";
    the flip is the y axis pointing down.)
    """
    return cross(a, b, p)


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    """p, already known to be collinear with a-b, lies within the segment's bounding box."""
    return (
        min(a[0], b[0]) - _EPS <= p[0] <= max(a[0], b[0]) + _EPS
        and min(a[1], b[1]) - _EPS <= p[1] <= max(a[1], b[1]) + _EPS
    )


def _sign(value: float) -> int:
    if value > _EPS:
        return 1
    if value < -_EPS:
        return -1
    return 0


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether segments p1-p2 and q1-q2 share at least one point (touching and collinear
    overlap included): the orientation test with the collinear special cases."""
    d1 = _sign(cross(q1, q2, p1))
    d2 = _sign(cross(q1, q2, p2))
    d3 = _sign(cross(p1, p2, q1))
    d4 = _sign(cross(p1, p2, q2))
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def segments_cross_properly(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether the segments' interiors cross at exactly one point (no touching, no
    collinear overlap): each segment's endpoints lie strictly on both sides of the other."""
    d1 = _sign(cross(q1, q2, p1))
    d2 = _sign(cross(q1, q2, p2))
    d3 = _sign(cross(p1, p2, q1))
    d4 = _sign(cross(p1, p2, q2))
    return d1 * d2 < 0 and d3 * d4 < 0


def self_intersection(vertices: Sequence[Point]) -> tuple[int, int] | None:
    """The first pair of edges (i, j), edge i running from vertex i to vertex i+1, that
    makes the closed polygon not simple, or None when it is simple.

    Non-adjacent edges must not share any point (a vertex touching another edge already
    pinches the polygon into two). Adjacent edges share their common vertex by
    construction, so they only count when they fold back onto each other (collinear,
    pointing in opposite directions). O(n^2), fine for the 64 vertices a zone may have.
    """
    n = len(vertices)
    edges = [(vertices[i], vertices[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        a0, a1 = edges[i]
        for j in range(i + 1, n):
            b0, b1 = edges[j]
            adjacent = j == i + 1 or (i == 0 and j == n - 1)
            if adjacent:
                if n == 3:
                    continue  # a triangle's only failure is zero area, checked elsewhere
                # shared vertex: a1 == b0 (j == i + 1) or b1 == a0 (i == 0, j == n - 1)
                first, shared, last = (a0, a1, b1) if j == i + 1 else (b0, b1, a1)
                folds = _sign(cross(first, shared, last)) == 0 and (
                    (shared[0] - first[0]) * (last[0] - shared[0])
                    + (shared[1] - first[1]) * (last[1] - shared[1])
                    < 0
                )
                if folds:
                    return (i, j)
            elif segments_intersect(a0, a1, b0, b1):
                return (i, j)
    return None


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
