"""The API gateway application: JetStream -> TimescaleDB/PostgreSQL -> GraphQL.

- `ingest`: durable JetStream consumers writing events in batches, idempotent
- `db`: the database (dialect, migrations from `gateway/sql`, reads, writes, rollups)
- `api`: the GraphQL schema (queries, mutations, subscriptions) and its limits
- `feeds`: live NATS events fanned out to subscriptions
- `rest`: health, metrics, process-frame, heatmap images
- `live`: relays a browser's WebRTC offer to the store node that runs the camera
- `dashboard`: the static operator page; `auth`: JWT scopes; `config`: settings
"""
