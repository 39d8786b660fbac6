"""Changes to a store's analytics configuration: what each mutation does to the stored
document, its validation with the contract models, and what the audit entry says.

Every change is applied to a copy of the newest stored document (a JSON object, webhook
secrets in clear) and the result is validated as a whole with
`trinetra.config.analytics.StoreAnalyticsConfig`: a zone is checked against the frame
(vertices in [0, 1]), its own shape (3..64 vertices, not self-intersecting) and the rest
of the store (ids unique, a funnel naming only existing zones, at most 32 zones per
camera, ...), a webhook URL against the SSRF rules of trinetra.config.network. Errors
name the field they are about, as a path from the mutation's argument (`zone.polygon`,
`config.zones.2.polygon`; a rule broken by the configuration as a whole names the
argument itself). Validation is CPU work (polygon intersection tests are quadratic in the
vertices), so callers run `prepare` off the event loop.

Webhook secrets are write-only: `putWebhook` without a secret (or with the mask the API
shows) keeps the endpoint's stored one, and neither the API nor the audit diff ever
carries one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import ValidationError

from trinetra.config.alerts import REVEAL_SECRETS, SECRET_MASK
from trinetra.config.analytics import StoreAnalyticsConfig

# A configuration at its limits is ~350 KB; the KV bucket takes values up to 1 MiB.
MAX_DOCUMENT_BYTES: Final = 1024 * 1024

Section = Literal["zones", "lines", "funnels", "alert_rules", "webhooks"]
SECTIONS: Final[tuple[Section, ...]] = ("zones", "lines", "funnels", "alert_rules", "webhooks")
# The mutation argument that carries one item of each section.
ARGUMENT: Final[dict[Section, str]] = {
    "zones": "zone",
    "lines": "line",
    "funnels": "funnel",
    "alert_rules": "rule",
    "webhooks": "webhook",
}


class ChangeError(Exception):
    """A change that cannot be made: `code` is NOT_FOUND or BAD_USER_INPUT; `field` the
    path of the offending input, `fields` every error found."""

    def __init__(
        self, message: str, code: str, field: str, fields: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.fields = fields or [{"field": field, "message": message}]


@dataclass(frozen=True)
class Prepared:
    """A validated new version: the model, its stored form (secrets in clear) and the
    audit diff (secrets left out)."""

    config: StoreAnalyticsConfig
    document: dict[str, Any]
    diff: dict[str, Any]


def empty_document(store_id: str) -> dict[str, Any]:
    return {"store_id": store_id, "version": 0}


def _items(document: Mapping[str, Any], section: Section) -> list[dict[str, Any]]:
    items = document.get(section) or []
    return [dict(item) for item in items]


def _check_size(value: object, argument: str) -> None:
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except (TypeError, ValueError):
        raise ChangeError(f"{argument} is not JSON", "BAD_USER_INPUT", argument) from None
    if size > MAX_DOCUMENT_BYTES:
        raise ChangeError(
            f"{argument} is {size} bytes of JSON, at most {MAX_DOCUMENT_BYTES}",
            "BAD_USER_INPUT",
            argument,
        )


def put_item(document: dict[str, Any], section: Section, item: object) -> dict[str, Any]:
    """The document with `item` added to `section`, or replacing the item of its id."""
    argument = ARGUMENT[section]
    if not isinstance(item, dict):
        raise ChangeError(f"{argument} must be a JSON object", "BAD_USER_INPUT", argument)
    _check_size(item, argument)
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise ChangeError(f"{argument} needs an id", "BAD_USER_INPUT", f"{argument}.id")
    out = copy.deepcopy(document)
    items = _items(out, section)
    if section == "webhooks":
        item = _keep_secret(item, items)
    for index, existing in enumerate(items):
        if existing.get("id") == item_id:
            items[index] = item
            break
    else:
        items.append(item)
    out[section] = items
    return out


def _keep_secret(item: dict[str, Any], existing: list[dict[str, Any]]) -> dict[str, Any]:
    secret = item.get("secret")
    if secret is not None and secret != SECRET_MASK:
        return item
    for other in existing:
        if other.get("id") == item.get("id") and "secret" in other:
            return {**item, "secret": other["secret"]}
    return {k: v for k, v in item.items() if k != "secret"}


def delete_item(document: dict[str, Any], section: Section, item_id: str) -> dict[str, Any]:
    out = copy.deepcopy(document)
    items = _items(out, section)
    kept = [item for item in items if item.get("id") != item_id]
    if len(kept) == len(items):
        what = ARGUMENT[section].replace("rule", "alert rule")
        raise ChangeError(f"no {what} {item_id!r}", "NOT_FOUND", f"{ARGUMENT[section]}Id")
    out[section] = kept
    return out


def replace_document(document: dict[str, Any], new: object, store_id: str) -> dict[str, Any]:
    """`new` as the whole configuration (its store_id and version are the server's);
    webhooks given without a secret keep theirs."""
    if not isinstance(new, dict):
        raise ChangeError("config must be a JSON object", "BAD_USER_INPUT", "config")
    _check_size(new, "config")
    out = {k: v for k, v in copy.deepcopy(new).items() if k not in ("store_id", "version")}
    out["store_id"] = store_id
    old_hooks = _items(document, "webhooks")
    if isinstance(out.get("webhooks"), list):
        out["webhooks"] = [
            _keep_secret(hook, old_hooks) if isinstance(hook, dict) else hook
            for hook in out["webhooks"]
        ]
    return out


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _field(loc: tuple[int | str, ...], section: Section | None, index: int | None) -> str:
    """The error's path from the mutation's argument (module docs)."""
    if section is not None:
        argument = ARGUMENT[section]
        if len(loc) >= 2 and loc[0] == section and loc[1] == index:
            return ".".join([argument, *(str(p) for p in loc[2:])])
        return argument
    return ".".join(["config", *(str(p) for p in loc)])


def prepare(
    before: dict[str, Any],
    after: dict[str, Any],
    version: int,
    *,
    section: Section | None = None,
    item_id: str | None = None,
) -> Prepared:
    """Validate `after` as the next version (CPU work: run it off the event loop).
    `section`/`item_id` name the item a put changed, so its errors name its fields."""
    document = {**after, "version": version}
    try:
        config = StoreAnalyticsConfig.model_validate(document)
    except ValidationError as exc:
        index = None
        if section is not None:
            ids = [item.get("id") for item in _items(after, section)]
            index = ids.index(item_id) if item_id in ids else None
        fields = [
            {"field": _field(tuple(e["loc"]), section, index), "message": _message(e)}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        raise ChangeError(
            f"invalid analytics configuration: {summary}",
            "BAD_USER_INPUT",
            fields[0]["field"],
            fields,
        ) from None
    stored = config.model_dump(mode="json", context=dict(REVEAL_SECRETS))
    return Prepared(config, stored, diff(before, stored))


def _public(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "secret"}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed, per section: ids added, removed, and changed with the fields that
    changed (values of items added or changed, secrets left out)."""
    out: dict[str, Any] = {}
    for section in SECTIONS:
        old = {i["id"]: i for i in _items(before, section) if "id" in i}
        new = {i["id"]: i for i in _items(after, section) if "id" in i}
        added = sorted(new.keys() - old.keys())
        removed = sorted(old.keys() - new.keys())
        changed = {
            key: sorted(
                f for f in new[key].keys() | old[key].keys() if new[key].get(f) != old[key].get(f)
            )
            for key in sorted(new.keys() & old.keys())
            if new[key] != old[key]
        }
        if added or removed or changed:
            out[section] = {
                "added": {key: _public(new[key]) for key in added},
                "removed": removed,
                "changed": {
                    key: {"fields": fields, "after": _public(new[key])}
                    for key, fields in changed.items()
                },
            }
    if before.get("camera_ids") != after.get("camera_ids"):
        out["camera_ids"] = {"before": before.get("camera_ids"), "after": after.get("camera_ids")}
    return out


def masked(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document as the API shows it: webhook secrets masked."""
    out = dict(document)
    if isinstance(out.get("webhooks"), list):
        out["webhooks"] = [
            {**hook, "secret": SECRET_MASK} if isinstance(hook, dict) else hook
            for hook in out["webhooks"]
        ]
    return out
