"""Retail analytics: zones, lines, queues, heatmaps, visits and funnels from tracked people.

`analytics.config` holds the store's analytics configuration (validated once, immutable),
`analytics.engine` the pure engine that turns tracked frames into analytics events, and
`analytics.groundtruth` a loader for MOT ground truth used by the accuracy benchmark.
Nothing here talks to NATS or a database: the service wiring lives elsewhere.
"""
