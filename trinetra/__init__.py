"""TRINETRA's contracts: what crosses a process boundary or is shared by the applications.

Every application (`orchestrator` the store node, `identity` the identity service,
`gateway` the API, `analytics` the analytics service) depends on this package and on
`ensembles.ops`, never on another application. This package imports no application.

- `events`: the one event schema (`events.schema`), its subjects and vocabularies, the
  JetStream stream specs (`events.streams`), the NATS connection (`events.connection`)
  and the outage-buffering publisher (`events.publisher`).
- `config`: the camera model (`config.camera`) and the source-address allowlist
  (`config.network`), shared by the node that runs cameras and the gateway that
  registers them.
- `inference`: the typed Triton client and the `FrameAnalysis` every stage speaks.
- `identity`: the identity service's protocol, its error vocabulary and its client
  (no Qdrant or crypto code).
- `settings`: the one Pydantic base for configuration; `retry`: backoff with jitter;
  `logs`: structured JSON logging.
"""
