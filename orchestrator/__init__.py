"""TRINETRA store-node orchestrator: camera streams -> Triton -> tracking -> NATS JetStream."""
