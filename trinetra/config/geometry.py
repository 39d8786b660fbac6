"""Plane geometry that validating a zone or a line needs: signed area, orientation,
segment intersection, simple-polygon check.

Here rather than in the analytics engine because configuration is a contract (the
gateway validates what an operator draws, the analytics service what it runs), and
`trinetra` imports no application. The engine's own hot-path geometry
(`analytics.engine.geometry`) builds on these.

Coordinates are image coordinates: x grows to the right, y grows *downwards*, which
flips the usual sense of rotation (see `polygon_area`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "Point",
    "cross",
    "polygon_area",
    "segments_cross_properly",
    "segments_intersect",
    "self_intersection",
]

Point = tuple[float, float]

# Orientation results within this of zero count as collinear.
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
