"""Encryption of embeddings stored anywhere but Qdrant (registry snapshot, backups).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key from the environment
variable `TRINETRA_EMBEDDING_KEY` (a urlsafe base64 32-byte key, as made by
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
The key is never read from a file or configuration, so it cannot be committed by mistake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken

EMBEDDING_KEY_ENV: Final = "TRINETRA_EMBEDDING_KEY"


class MissingEmbeddingKeyError(RuntimeError):
    """Encrypted storage is on but no usable key is in the environment."""


class DecryptionError(RuntimeError):
    """Ciphertext that this key cannot open (wrong key, or tampered/corrupt data)."""


class EmbeddingCipher:
    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise MissingEmbeddingKeyError(
                f"{EMBEDDING_KEY_ENV} is not a valid Fernet key (32 bytes, urlsafe base64): {exc}"
            ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmbeddingCipher:
        env = os.environ if environ is None else environ
        key = env.get(EMBEDDING_KEY_ENV, "").strip()
        if not key:
            raise MissingEmbeddingKeyError(
                f"{EMBEDDING_KEY_ENV} is not set: embeddings stored outside Qdrant are "
                f'encrypted with it. Generate one with `python -c "from cryptography.fernet '
                f'import Fernet; print(Fernet.generate_key().decode())"` and keep it in the '
                f"secret store."
            )
        return cls(key)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise DecryptionError("cannot decrypt: wrong key or corrupted data") from None

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())

    def decrypt_json(self, token: bytes) -> Any:
        return json.loads(self.decrypt(token))

    def write_file(self, path: Path, value: Any) -> None:
        """Encrypt `value` (JSON) into `path` atomically (temp file + rename), mode 0600."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(self.encrypt_json(value))
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)

    def read_file(self, path: Path) -> Any:
        return self.decrypt_json(path.read_bytes())
