"""Alerting: the store's alert rules over its live analytics, and webhooks.

| module         | job                                                                   |
|----------------|-----------------------------------------------------------------------|
| `engine`       | the pure rule engine: inputs -> alert.raised / alert.resolved         |
| `tracker`      | one (rule, subject): hold, dedup, cooldown, auto-resolve              |
| `inputs`       | the facts the engine reads, taken from bus events                     |
| `footfall`     | hourly counts against the same weekday-hour of previous weeks         |
| `hours`        | local-time windows and hours (time zones, daylight saving)            |
| `describe`     | the sentence each alert carries                                       |
| `runner`       | the engine on JetStream: consumers, checkpoints, publishing           |
| `webhooks`     | one queue per endpoint: signed POSTs, retries, dead letters           |
| `delivery`     | one HTTP attempt, through trinetra/webhooks/ (SSRF checks, signature) |
| `deadletter`   | the ALERTS_DEADLETTER stream and its records                          |
| `component`    | `Alerting` / `run_alerting`: all of it for one store, configured live |

The rules and endpoints are configuration (trinetra/config/alerts.py, sections of the
store's analytics configuration); the alert events are the event schema's
(trinetra/events/schema.py).
"""
