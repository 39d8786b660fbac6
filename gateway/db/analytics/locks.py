"""Transaction-level advisory lock keys of the analytics maintenance (arbitrary, fixed):
writers of the same derived tables take turns, whichever replica or request runs them."""

from __future__ import annotations

from typing import Final

ROLLUPS: Final = 0x616E616C7974  # "analyt": the plain-PostgreSQL rollup refresh
JOURNEYS: Final = 0x6A6F75726E65  # "journe": journeys, their counts, flows and funnels
