"""Reading one Prometheus sample, from a registry, exposition text or a /metrics URL: the
one metrics reader of the tests.

    read_metric(metrics.registry, "trinetra_frames_in_total", {"camera": "cam-1"})
    read_metric(response.text, "trinetra_gateway_http_requests_total", {"route": "/health"})
    await scrape_metric(triton.metrics_url, "nv_inference_count", {"model": "vision_pipeline"})

A metric the source does not know at all (no family of that name: a typo, or not
registered) raises KeyError; a known metric without a sample for those labels reads 0.0,
which is what a counter that was never incremented means. Labels match exactly, as in
`CollectorRegistry.get_sample_value`.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Metric
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["read_metric", "scrape_metric"]

# Sample names a family's name may take a suffix for (counters, histograms, summaries).
_SUFFIXES = ("", "_total", "_created", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_info")


def _families(source: CollectorRegistry | str) -> Iterable[Metric]:
    if isinstance(source, CollectorRegistry):
        return source.collect()
    text = source
    if source.startswith(("http://", "https://")):
        # Blocking: for a server outside this event loop, or through scrape_metric.
        with urllib.request.urlopen(source, timeout=10) as response:
            text = response.read().decode()
    return text_string_to_metric_families(text)


def read_metric(
    source: CollectorRegistry | str, name: str, labels: Mapping[str, str] | None = None
) -> float:
    """The value of sample `name` with exactly `labels` (module docs for the rules)."""
    wanted = dict(labels or {})
    known = False
    for family in _families(source):
        if name not in {family.name + suffix for suffix in _SUFFIXES}:
            continue
        known = True
        for sample in family.samples:
            if sample.name == name and sample.labels == wanted:
                return float(sample.value)
    if not known:
        raise KeyError(f"no metric named {name!r} in the source")
    return 0.0


async def scrape_metric(url: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """`read_metric` of a /metrics URL, fetched off the event loop (which may be the one
    serving it)."""
    return await asyncio.to_thread(read_metric, url, name, labels)
