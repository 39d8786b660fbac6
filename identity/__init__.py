"""Identity resolution: the face gallery (Qdrant), precision-first per-track gating, and
the identity service that owns them.

Modules, one job each (import from them directly; this package imports nothing so that
light tools such as `calibrate` stay light):

- `config`: settings (Pydantic, extra keys forbidden)
- `calibration`: the per-embedder-version calibration file; `far`: binomial bounds
- `vectors`: embedding hygiene (unit vectors, fusion, EMA step)
- `gallery`: the Qdrant face gallery (local or server mode), audited; `local_index`: its
  exact local-mode search
- `enrollment`: photos -> one usable face each -> embeddings, typed refusals
- `quality`: the observation quality gate (`ensembles.ops.face_quality`)
- `voting`, `topology`, `companions`, `false_merge`, `registry`, `drift`: the gates
- `tracks`, `consistency`, `face_moves`: per-track state, one track one person, ID switches
- `visits`, `visit_linking`: anonymous visit-scoped re-identification (memory only)
- `gate`: `IdentityGate`, the per-track decision engine
- `outcomes`, `events`: decisions and the schema events announcing them
- `audit`, `crypto`: access audit trail; encryption of embeddings outside Qdrant
- `service`: the identity service over NATS request/reply (protocol and client in
  `trinetra.identity`)
- `calibrate`: threshold calibration tool; `metrics`: Prometheus metrics
"""
