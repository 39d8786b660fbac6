"""The store-node application: camera streams -> Triton -> tracking -> NATS JetStream.

- `cameras`: frame sources (RTSP, HTTP MJPEG, files, ...) and the per-camera worker
  (reader thread, state machine, reconnect backoff)
- `frames`: validation (undecodable, blank), the motion-aware sampler, the burst limiter
- `pipeline`: micro-batching into `vision_pipeline`, the track journal (track events),
  the identity feed (tracked faces to the identity service)
- `tracking`: ByteTrack; `checkpoint`: tracker state in NATS KV
- `live`: the live view (WebRTC) of each camera with its own boxes drawn
- `node`: `StoreNode`, which wires them; `health`: /health, /ready, /metrics, /live
- `config`: the camera YAML loader and the node's settings; `metrics`: Prometheus

Everything other processes must agree on (event schema, camera model, Triton client)
is in `trinetra`.
"""
