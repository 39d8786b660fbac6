#!/usr/bin/env bash
# Installs the Debian packages TRINETRA needs outside its virtualenvs (test cameras, the
# dashboard's browser tests, and Prometheus and Alertmanager for the alert rule tests).
#
# GStreamer's RTSP server is the only way on Debian to serve real RTSP over TCP (ffmpeg
# can read RTSP but not serve it); the tests use it to exercise the camera workers
# against a real H.264 stream. Its Python bindings (python3-gi) belong to the SYSTEM
# interpreter, so the sample camera runs devservices/gst_rtsp_serve.py with /usr/bin/python3.
#
# Idempotent: exits without touching apt when every package is already installed.
set -euo pipefail

PACKAGES=(
    python3-gi                  # GObject introspection for /usr/bin/python3
    gir1.2-gstreamer-1.0        # Gst typelib
    gir1.2-gst-plugins-base-1.0 # GstRtsp/GstSdp typelibs the RTSP server's typelib needs
    gir1.2-gst-rtsp-server-1.0  # GstRtspServer typelib (pulls libgstrtspserver)
    gstreamer1.0-plugins-base   # decodebin, videoconvert, videorate, videoscale
    gstreamer1.0-plugins-good   # avidemux, rtph264pay
    gstreamer1.0-plugins-bad    # intervideosink/intervideosrc (a live, looping source)
    gstreamer1.0-plugins-ugly   # x264enc
    gstreamer1.0-libav          # avdec_msmpeg4 for the MP43 test video (vtest.avi)
    chromium                    # headless browser for the dashboard tests
    chromium-driver             # WebDriver for it (selenium drives it; nothing downloaded)
    prometheus                  # the server and promtool: alert rule tests (tests/deploy/)
    prometheus-alertmanager     # Alertmanager and amtool: the webhook route's test
)
# npm installs the dashboard's pinned chart library (gateway/dashboard/package.json).
# Machines whose Node.js already brings npm (e.g. NodeSource builds) keep theirs: Debian's
# npm package would conflict with it.
if ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system packages: all ${#PACKAGES[@]} already installed"
    exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
fi

echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian starts the daemons of the packages it installs (Prometheus on :9090, Alertmanager
# on :9093). The tests start their own on free loopback ports; leave none running that
# this script put there.
if [[ -d /run/systemd/system ]]; then
    for unit in prometheus prometheus-alertmanager; do
        if [[ " ${missing[*]} " == *" $unit "* ]]; then
            "${SUDO[@]}" systemctl disable --now "$unit" >/dev/null 2>&1 || true
        fi
    done
fi
