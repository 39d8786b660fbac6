"""Identity resolution: the face gallery (Qdrant), precision-first per-track gating, and
the identity service that owns them.

Modules, one job each (import from them directly; this package imports nothing so that
light tools such as `calibrate` stay light):

- `config`: settings (Pydantic, extra keys forbidden)
- `vectors`: embedding hygiene (unit vectors, fusion, EMA step)
- `gallery`: the Qdrant face gallery (local or server mode), audited
- `enrollment`: photo -> exactly one face -> embedding, typed refusals
- `voting`, `topology`, `companions`, `false_merge`, `registry`, `drift`: the gates
- `gate`: `IdentityGate`, the per-track decision engine
- `outcomes`, `events`: decisions and the schema events announcing them
- `audit`, `crypto`: access audit trail; encryption of embeddings outside Qdrant
- `protocol`, `service`, `client`: the identity service over NATS request/reply
- `calibrate`: threshold calibration tool; `metrics`: Prometheus metrics
"""
