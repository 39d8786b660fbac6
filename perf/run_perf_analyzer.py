"""perf_analyzer over gRPC against each model and the pipelines, with a concurrency sweep.

    .venv/bin/python perf/run_perf_analyzer.py [--url HOST:PORT] [--concurrency 1 2 4 8]

perf_analyzer comes in the tritonclient 2.51 wheel (.venv/bin/perf_analyzer); it links
libcudart (the nvidia-cuda-runtime-cu12 wheel) and libb64 (bundled with the server in
.venv-triton), which this script puts on its library path. Without --url it starts the
CPU Triton server itself. Results: perf/results/perf_analyzer-<time>/<model>.csv and a
printed summary (throughput, p50/p99 latency per concurrency).
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devservices.paths import REPO_ROOT
from devservices.triton import LocalTriton

MEDIA = REPO_ROOT / ".cache" / "media"
# Tensor models get perf_analyzer's random data; the frame-in pipelines get a real JPEG.
MODELS = ("person_detector", "face_detector", "face_embedder")
PIPELINES = ("person_detection", "vision_pipeline")


def library_path(workdir: Path) -> str:
    """A folder with the libraries perf_analyzer expects under their plain names."""
    venv_site = next((REPO_ROOT / ".venv").glob("lib/python3.*/site-packages"))
    server_site = next((REPO_ROOT / ".venv-triton").glob("lib/python3.*/site-packages"))
    libb64 = next((server_site / "nvidia_pytriton.libs").glob("libb64-*.so.0d"))
    link = workdir / "libb64.so.0d"
    if not link.exists():
        link.symlink_to(libb64)
    cudart = venv_site / "nvidia" / "cuda_runtime" / "lib"
    return os.pathsep.join([str(workdir), str(cudart), os.environ.get("LD_LIBRARY_PATH", "")])


def jpeg_input_data(workdir: Path) -> Path:
    """perf_analyzer input data: one real frame as IMAGE_ENCODED bytes."""
    data = (MEDIA / "bus.jpg").read_bytes()
    payload = {
        "data": [{"IMAGE_ENCODED": {"b64": base64.b64encode(data).decode(), "shape": [len(data)]}}]
    }
    path = workdir / "jpeg_input.json"
    path.write_text(json.dumps(payload))
    return path


def run(
    model: str,
    url: str,
    concurrency: list[int],
    out: Path,
    env: dict[str, str],
    input_data: Path | None,
) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for level in concurrency:
        csv_path = out / f"{model}-c{level}.csv"
        command = [
            str(REPO_ROOT / ".venv" / "bin" / "perf_analyzer"),
            "-m",
            model,
            "-u",
            url,
            "-i",
            "grpc",
            "--async",
            f"--concurrency-range={level}",
            "--measurement-mode=count_windows",
            "--measurement-request-count=24",
            "--stability-percentage=50",
            "--max-trials=4",
            "--percentile=99",
            "-f",
            str(csv_path),
            "--verbose-csv",
        ]
        if input_data:
            command.append(f"--input-data={input_data}")
        print(f"  {model} concurrency {level}", flush=True)
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        (out / f"{model}-c{level}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            print(
                f"    perf_analyzer failed (see {out / f'{model}-c{level}.log'}):\n"
                f"    {result.stderr.strip()[-500:]}"
            )
            continue
        with csv_path.open() as f:
            rows.extend(dict(row, Model=model) for row in csv.DictReader(f))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running Triton (gRPC host:port)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--models", nargs="+", default=[*MODELS, *PIPELINES])
    args = parser.parse_args()
    out = REPO_ROOT / "perf" / "results" / time.strftime("perf_analyzer-%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    server = None if args.url else LocalTriton()
    if server:
        print("starting Triton (CPU profile)...", flush=True)
        server.start()
    url = args.url or (server.grpc_url if server else "")
    rows: list[dict[str, str]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            env = dict(os.environ, LD_LIBRARY_PATH=library_path(workdir))
            jpeg = jpeg_input_data(workdir)
            for model in args.models:
                rows += run(
                    model, url, args.concurrency, out, env, jpeg if model in PIPELINES else None
                )
    finally:
        if server:
            server.stop()
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{'model':<18} {'conc':>4} {'infer/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(
            f"{row['Model']:<18} {row['Concurrency']:>4} {float(row['Inferences/Second']):9.2f} "
            f"{int(row['p50 latency']) / 1000:8.1f} {int(row['p99 latency']) / 1000:8.1f}"
        )
    print(f"\nresults: {out}")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
