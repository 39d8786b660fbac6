"""Live view of a camera over WebRTC, with the tracker's boxes and ids drawn on it."""
