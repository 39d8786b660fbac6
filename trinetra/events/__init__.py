"""Events TRINETRA emits and how they travel over NATS JetStream.

`schema` is the contract (importable without nats or numpy, so the gateway can use it);
`streams`, `connection`, `publisher` and `checkpoint` are the NATS side.
"""
