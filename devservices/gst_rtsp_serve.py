"""Serve a video file as a live, endlessly looping H.264 RTSP stream over TCP.

Runs under the SYSTEM interpreter (/usr/bin/python3): the GStreamer bindings come from
Debian's python3-gi, which the project virtualenv cannot import. Started as a subprocess
by devservices/rtsp.py; prints READY once the port is bound.

Two pipelines, so the stream behaves like a camera rather than a file:
- a producer decodes the file in real time into an `intervideosink` channel and seeks back
  to the start on end-of-stream (looping without the RTSP session ever seeing an EOS);
- the RTSP factory encodes whatever the channel holds now (`intervideosrc` is a live
  source), so clients join mid-stream, as they do on a real camera.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi  # type: ignore[import-not-found]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--file", required=True, help="video file to serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--path", default="/stream", help="mount point, e.g. /stream")
    # 25 fps like most IP cameras. It also sets how fast clients start: FFmpeg probes ~20
    # frames before its first one (~0.9 s at 25 fps, ~2.8 s at 10 fps).
    parser.add_argument("--fps", type=int, default=25, help="output frame rate")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    Gst.init(None)
    loop = GLib.MainLoop()
    exit_code = [0]
    channel = f"trinetra-{args.port}"

    producer = Gst.parse_launch(
        f'filesrc location="{args.file}" ! decodebin ! videoconvert ! videorate '
        f"! video/x-raw,format=I420,framerate={args.fps}/1 "
        f"! intervideosink channel={channel}"
    )

    def on_message(_bus: object, message: object) -> None:
        kind = message.type  # type: ignore[attr-defined]
        if kind == Gst.MessageType.EOS:
            producer.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif kind == Gst.MessageType.ERROR:
            err, debug = message.parse_error()  # type: ignore[attr-defined]
            print(f"producer error: {err.message} ({debug})", file=sys.stderr, flush=True)
            exit_code[0] = 1
            loop.quit()

    bus = producer.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if producer.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print("producer failed to start", file=sys.stderr, flush=True)
        return 1

    factory = GstRtspServer.RTSPMediaFactory()
    # zerolatency + ultrafast: ~8 % of a core at 768x576@25. One encoder thread: with
    # zerolatency's sliced threads FFmpeg's RTSP client logged non-increasing DTS. A
    # keyframe every second and SPS/PPS with each, so a client joining the shared stream
    # decodes within ~1 s.
    factory.set_launch(
        f"( intervideosrc channel={channel} ! video/x-raw,framerate={args.fps}/1 "
        f"! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast threads=1 "
        f"key-int-max={args.fps} ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(True)
    # TCP only: a client that tried UDP would be refused, which keeps the tests honest
    # about the transport the orchestrator asks for.
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 1

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://{args.host}:{args.port}{args.path}", flush=True)
    loop.run()
    producer.set_state(Gst.State.NULL)
    return exit_code[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
