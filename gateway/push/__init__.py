"""Push mode: frames sent to `POST /api/v1/detections/process-frame` (gateway/rest/
process_frame.py) rather than read from a camera stream.

| module       | job                                                                  |
|--------------|----------------------------------------------------------------------|
| `models`     | the request (JSON or multipart) and the answers                      |
| `dedup`      | one frame_id per camera per window, across replicas (NATS KV create)  |
| `queue`      | the bounded priority queue in front of Triton                        |
| `service`    | one frame through the queue into Triton: its `FrameResult`           |
| `results`    | detections from a `FrameAnalysis`: filters, embeddings, face crops    |
| `jobs`       | async jobs: the PUSH_JOBS record (KV) and queue (JetStream)          |
| `worker`     | the durable consumer that runs async jobs                            |
| `callbacks`  | signed callbacks with retries, dead letters                          |
| `mode`       | all of it, built and started by the gateway                          |
"""
