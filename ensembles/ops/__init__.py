"""Pure functions for the vision pipeline: decode, letterbox, detector heads, NMS, face
alignment. No Triton imports, so the same code runs in-process and inside the server."""
