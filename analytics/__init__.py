"""Retail analytics: zones, lines, queues, heatmaps, visits and funnels from tracked people.

The application that turns the DETECTIONS stream into the ANALYTICS stream
(`python -m analytics`, one process per partition of a store's cameras):

- `engine`: the pure engine, tracked frames in, analytics events out (frame time only);
  `config`: its knobs (`EngineSettings`). The store's zones, lines and funnels are a
  contract shared with the gateway: `trinetra.config.analytics`.
- `processor`: one partition's engine in bus format (DetectionsEvent in, schema events
  out; `wire` converts, `partition` decides which cameras are ours), with no I/O.
- `service`: the JetStream consumer, publisher, live configuration (`live_config`),
  checkpoints (`checkpoint`) and operational endpoint around the processor;
  `settings` its environment, `metrics` its Prometheus metrics.
- `alerts`: the store's alert rules and webhooks over the live analytics (its own
  runner on the ANALYTICS stream).
- `groundtruth`: a loader for MOT ground truth, for the accuracy benchmark.
"""
