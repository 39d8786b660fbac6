"""Run the real Triton server on the CPU: the tritonserver binary pip-installed (by
nvidia-pytriton) in its own virtualenv, python backend only, on loopback.

    python triton/cpu_server.py [--grpc-port 8001] [--http-port 8000] [--metrics-port 8002]
                                [--model-config-name openvino|cpu]
                                [--model-repository DIR] [--ensemble-repository DIR]

The profile (Triton's --model-config-name: each model's configs/NAME.pbtxt) is
`openvino` (OpenVINO in the python-based openvino_cpu backend) unless the flag or
TRINETRA_TRITON_PROFILE names another, e.g. `cpu` (onnxruntime). OpenVINO is the default
because it is the faster of the two on CPUs with equal results (perf/bench_cpu_profiles.py,
tests/triton/test_profiles.py). A model with profiles (a configs/ folder) but without
that one is refused before the server starts: Triton would silently fall back to its
config.pbtxt, the GPU profile.

Prints `READY grpc=HOST:PORT http=HOST:PORT metrics=HOST:PORT` once every model is
loaded and has run the warm-up its config declares (`model_warmup`: Triton marks a model
READY only after it, and with --strict-readiness the server ready only when every model
is), then serves until SIGINT/SIGTERM, which it forwards for a clean shutdown. If a
model cannot load (a failed warm-up included) it prints which one and why, and exits
with status 2. Standard library
only: it runs under any Python, and the server runs under .venv-triton's.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
MODEL_REPOSITORY = ROOT / "model_repository"
ENSEMBLE_REPOSITORY = ROOT / "ensembles" / "repository"
BACKENDS_SRC = ROOT / "triton" / "backends"
DEFAULT_PROFILE = "openvino"
PROFILE_VARIABLE = "TRINETRA_TRITON_PROFILE"


def server_venv() -> Path:
    return Path(os.environ.get("TRINETRA_TRITON_VENV", ROOT / ".venv-triton"))


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3.*/site-packages/pytriton"))
    if not found:
        sys.exit(f"error: no pytriton in {venv}; run `make setup` first")
    return found[0].parent


def build_backend_dir(site: Path, target: Path) -> Path:
    """The backend directory: pytriton's python backend with the stub for the venv's
    Python, plus our python-based backends (each a directory holding model.py)."""
    bundled = site / "pytriton" / "tritonserver"
    version = re.search(r"python(3\.\d+)", str(site))
    assert version, site
    python_dir = target / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for src in (
        bundled / "backends" / "python" / "libtriton_python.so",
        bundled / "backends" / "python" / "triton_python_backend_utils.py",
        bundled / "python_backend_stubs" / version.group(1) / "triton_python_backend_stub",
    ):
        install_file(src, python_dir / src.name)
    for backend in BACKENDS_SRC.iterdir():
        if (backend / "model.py").exists():
            (target / backend.name).mkdir(exist_ok=True)
            install_file(backend / "model.py", target / backend.name / "model.py")
    return target


def install_file(src: Path, dst: Path) -> None:
    """Copy unless identical; replace by rename, since a running server may be executing
    the old stub (overwriting a busy executable fails)."""
    if dst.exists() and filecmp.cmp(src, dst, shallow=False):
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def model_names(repositories: list[Path]) -> list[str]:
    return sorted(
        d.name for repo in repositories for d in repo.iterdir() if (d / "config.pbtxt").exists()
    )


def default_profile() -> str:
    return os.environ.get(PROFILE_VARIABLE) or DEFAULT_PROFILE


def models_without_profile(repository: Path, models: list[str], profile: str) -> list[str]:
    """The models among `models` that have profiles (a configs/ folder) but not this one.
    A model without configs/ (a python-backend model) has one config for every profile."""
    return [
        name
        for name in models
        if (repository / name / "configs").is_dir()
        and not (repository / name / "configs" / f"{profile}.pbtxt").exists()
    ]


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    return False


def load_failures(log: Path) -> list[str]:
    """The server's own explanation of each model that failed to load."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [
        line.strip()
        for line in text.splitlines()
        if "failed to load" in line or "UNAVAILABLE" in line or "error:" in line.lower()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument(
        "--model-config-name",
        "--profile",
        dest="profile",
        default=default_profile(),
        help=f"the profile: configs/NAME.pbtxt of each model (default: ${PROFILE_VARIABLE}, "
        f"else {DEFAULT_PROFILE})",
    )
    parser.add_argument("--model", action="append", help="load only these models (repeatable)")
    parser.add_argument(
        "--model-repository",
        type=Path,
        default=MODEL_REPOSITORY,
        help="the ML models' repository",
    )
    parser.add_argument(
        "--ensemble-repository",
        type=Path,
        default=ENSEMBLE_REPOSITORY,
        help="the python-backend models' repository (vision_pipeline, ...), served as well",
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "triton")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    repositories = [args.model_repository.resolve(), args.ensemble_repository.resolve()]
    models = args.model or model_names(repositories)
    unprofiled = models_without_profile(repositories[0], models, args.profile)
    if unprofiled:
        print(
            f"error: profile {args.profile!r}: no configs/{args.profile}.pbtxt for "
            f"{', '.join(unprofiled)} in {repositories[0]}",
            file=sys.stderr,
        )
        return 2
    venv = server_venv()
    site = site_packages(venv)
    binary = site / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    args.workdir.mkdir(parents=True, exist_ok=True)
    backends = build_backend_dir(site, args.workdir / "backends")
    log = args.workdir / f"tritonserver-{args.grpc_port}.log"

    env = dict(os.environ)
    # The python stub takes sys.prefix from the first python3 on PATH.
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["LD_LIBRARY_PATH"] = (
        f"{site / 'nvidia_pytriton.libs'}{os.pathsep}{env.get('LD_LIBRARY_PATH', '')}"
    )
    command = [
        str(binary),
        *(f"--model-repository={repo}" for repo in repositories),
        f"--backend-directory={backends}",
        f"--model-config-name={args.profile}",
        "--model-control-mode=explicit",
        *(f"--load-model={name}" for name in models),
        f"--http-address={args.host}",
        f"--http-port={args.http_port}",
        f"--grpc-address={args.host}",
        f"--grpc-port={args.grpc_port}",
        f"--metrics-address={args.host}",
        f"--metrics-port={args.metrics_port}",
        "--allow-gpu-metrics=false",
        "--pinned-memory-pool-byte-size=0",
        # Ready only when every model is, warm-up included (the store node's probe).
        "--strict-readiness=true",
        "--exit-on-error=true",
        "--exit-timeout-secs=10",
        "--log-verbose=0",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)

    def stop(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ready_url = f"http://{args.host}:{args.http_port}/v2/health/ready"
    if not wait_ready(process, ready_url, args.ready_timeout):
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
        failures = load_failures(log) or ["no reason in the log"]
        print(f"error: Triton did not become ready (log: {log})", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 2
    print(
        f"READY grpc={args.host}:{args.grpc_port} http={args.host}:{args.http_port} "
        f"metrics={args.host}:{args.metrics_port} profile={args.profile} "
        f"models={','.join(models)}",
        flush=True,
    )
    return process.wait()


if __name__ == "__main__":
    sys.exit(main())
