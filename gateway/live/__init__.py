"""The live view's REST side: a camera's WebRTC offer is relayed to the store node that
runs the camera, which streams its analysed frames with their own boxes drawn."""
