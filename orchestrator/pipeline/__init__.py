"""The store node's per-frame path: sampled frames -> Triton (micro-batched) -> tracker ->
events."""
