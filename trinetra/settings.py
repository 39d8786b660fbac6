"""The one base for TRINETRA's configuration, and the one place environment handling lives.

- `ConfigModel`: every configuration section (a camera, a zone, the Triton client, a
  gateway section). Unknown fields are errors, so a typo such as `target_fsp` fails
  naming the field instead of silently keeping the default; validated values are frozen;
  and every field carries a description (tests/trinetra/test_settings.py walks every
  subclass), which is what an operator reads when a value is refused.
- `Settings`: a process's settings from the environment: prefix `TRINETRA_`, nested
  sections with `__` (`TRINETRA_TRITON__URL`, `TRINETRA_INGEST__BATCH_SIZE`). An unknown
  key inside a section is an error; an unrelated top-level `TRINETRA_*` variable (another
  process's setting) is not read at all.
- `read_yaml` / `load_yaml` / `parse_yaml`: a YAML configuration file (or text), with
  errors that name it: not UTF-8, not YAML, or nested deeper than MAX_YAML_DEPTH (checked
  on the parser's event stream first, since the YAML composer and everything after it
  recurse per level) are ConfigFileError, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_NESTED_DELIMITER", "ENV_PREFIX", "ConfigFileError", "ConfigModel", "Settings"]
__all__ += ["MAX_YAML_DEPTH", "load_yaml", "parse_yaml", "read_yaml"]

ENV_PREFIX = "TRINETRA_"
ENV_NESTED_DELIMITER = "__"
# Collections inside collections; configurations nest a handful (a zone's polygon: 6).
MAX_YAML_DEPTH = 64

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigModel(BaseModel):
    """A configuration section: strict (unknown fields are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(BaseSettings):
    """A process's settings, read from `TRINETRA_*` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
    )


class ConfigFileError(ValueError):
    """A configuration file cannot be read or is not valid YAML; the message names it."""


def read_yaml(path: str | Path, *, what: str = "config file") -> Any:
    """The parsed content of a YAML file (None for an empty file); `what` names the
    file's role in errors ("cannot read camera file ...")."""
    chosen = Path(path)
    try:
        raw = chosen.read_bytes()
    except OSError as exc:
        raise ConfigFileError(f"cannot read {what} {chosen}: {exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigFileError(
            f"{what} {chosen} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line} "
            f"(offset {exc.start}); save it as UTF-8"
        ) from None
    return parse_yaml(text, origin=f"{what} {chosen}")


def parse_yaml(text: str, *, origin: str) -> Any:
    """Parsed YAML text; `origin` names it in errors (ConfigFileError, one line)."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    mark = event.start_mark
                    where = "" if mark is None else f" (line {mark.line + 1})"
                    raise ConfigFileError(
                        f"{origin} nests deeper than {MAX_YAML_DEPTH} levels{where}"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())  # PyYAML's message spans lines
        raise ConfigFileError(f"{origin} is not valid YAML: {problem}") from None


def load_yaml(
    path: str | Path,
    model: type[ModelT],
    *,
    what: str = "config file",
    context: dict[str, Any] | None = None,
) -> ModelT:
    """A YAML file validated as `model` (an empty file is an empty mapping).

    Raises ConfigFileError for an unreadable file and pydantic's ValidationError, which
    names every bad field, for invalid content.
    """
    data = read_yaml(path, what=what)
    return model.model_validate({} if data is None else data, context=context)
