"""The system's line crossings on vtest.avi against the hand count
(tests/analytics/data/vtest_line_crossings.json): the whole video through real Triton,
the project's ByteTrack and the analytics service's processor (perf/bench_analytics_vtest.py,
which prints the full comparison). About 1.5 min on the CPU profile: the one long test."""

from __future__ import annotations

from perf.bench_analytics_vtest import analyse_video, compare, track_and_count
from tests.support.triton_server import LocalTriton


async def test_vtest_crossings_match_the_hand_count(triton_server: LocalTriton) -> None:
    analyses, size = await analyse_video(triton_server.grpc_url)
    assert len(analyses) == 795
    result = compare(track_and_count(analyses, size), len(analyses), 0.0)
    for direction in ("in", "out"):
        # Looser than the benchmark's figure (exact on the development machine), so a
        # detector or tracker change that costs a crossing or two does not fail CI.
        assert result.error(direction) <= 0.2, result
        assert result.matched[direction] >= 0.8 * result.hand[direction], result
