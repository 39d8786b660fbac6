"""REST endpoints: health, readiness, metrics and process-frame."""
