"""Where the source tree's files are: the one place the repository root is found."""

from __future__ import annotations

from pathlib import Path
from typing import Final

# devservices/ sits at the top of the repository.
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
MODEL_REPOSITORY: Final = REPO_ROOT / "model_repository"
ENSEMBLE_REPOSITORY: Final = REPO_ROOT / "ensembles" / "repository"
CACHE_DIR: Final = REPO_ROOT / ".cache"
MEDIA_DIR: Final = CACHE_DIR / "media"
LOG_DIR: Final = CACHE_DIR / "logs"
