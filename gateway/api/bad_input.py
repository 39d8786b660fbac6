"""Malformed input refused at the API boundary with a message, before anything acts on it
(each was a 500 in the probe of issue 14):

- GraphQL request JSON nested deeper than `max_json_depth` (the decoder, graphql-core and
  pydantic all recurse per level), or holding a NUL character in a string or a key
  (PostgreSQL text and jsonb cannot store U+0000): `check_request_json`, a 400 naming
  the place;
- a NUL in a string literal of the document: `NulFreeStrings`, BAD_USER_INPUT;
- a multipart upload map whose path does not lead into the operations' variables:
  `place_files`, a 400 naming the path and what is wrong with it;
- a NUL (%00) in a URL's path or query string: `NulFreeUrls`, a 400 for every route.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import BAD_USER_INPUT

NUL = "\x00"
NUL_MESSAGE = "text may not contain NUL (\\u0000)"


class BadInputError(ValueError):
    """The request is malformed; the message says where and how."""


def check_request_json(value: object, max_depth: int) -> None:
    """BadInputError unless `value` (a decoded request body) nests at most `max_depth`
    levels and holds no NUL in any string or key. Iterative: the value may be deep."""
    stack: list[tuple[object, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                raise BadInputError(f"{_where(path)}: {NUL_MESSAGE}")
        elif isinstance(item, dict | list):
            if len(path) >= max_depth:
                raise BadInputError(f"request JSON nests deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if NUL in key:
                        raise BadInputError(f"{_where(path)} (a key): {NUL_MESSAGE}")
                    stack.append((child, (*path, key)))
            else:
                stack.extend((child, (*path, str(i))) for i, child in enumerate(item))


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "the request"


def decode_request_json(data: str | bytes, max_depth: int) -> Any:
    """The decoded body, checked (`check_request_json`). A body too deep for the decoder
    itself is a BadInputError too, not a RecursionError."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise BadInputError(f"request JSON nests deeper than {max_depth} levels") from None
    check_request_json(value, max_depth)
    return value


class NulFreeStrings(ValidationRule):
    """A NUL in a string literal of the document (written `\\u0000`) is refused."""

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if NUL in node.value:
            self.report_error(
                GraphQLError(
                    "string arguments may not contain NUL (\\u0000)",
                    node,
                    extensions={"code": BAD_USER_INPUT},
                )
            )


def place_files(operations: object, files_map: object, files: Mapping[str, Any]) -> Any:
    """The operations with each uploaded file put where the map's paths say (the GraphQL
    multipart request spec); BadInputError names a path that leads nowhere."""
    if not isinstance(operations, dict):
        raise BadInputError("operations must be an object")
    if not isinstance(files_map, dict):
        raise BadInputError("map must be an object")
    for name, paths in files_map.items():
        if not isinstance(paths, list):
            raise BadInputError(f"map entry {name} must be a list of paths")
        if name not in files:
            raise BadInputError(f"map names file {name}, which the request does not carry")
        for path in paths:
            if not isinstance(path, str) or not path:
                raise BadInputError(f"map entry {name} holds {path!r}, not a path")
            try:
                _place(operations, path.split("."), files[name])
            except BadInputError as exc:
                raise BadInputError(f"map path {path}: {exc}") from None
    return operations


def _place(operations: dict[str, Any], keys: list[str], file: object) -> None:
    target: Any = operations
    walked: list[str] = []
    for position, key in enumerate(keys):
        where = ".".join(walked) or "operations"
        last = position == len(keys) - 1
        if isinstance(target, dict):
            if last:
                target[key] = file
                return
            if key not in target:
                raise BadInputError(f"{where} has no {key}")
            target = target[key]
        elif isinstance(target, list):
            if not key.isdigit():
                raise BadInputError(f"{key} is not an index of the list at {where}")
            if int(key) >= len(target):
                raise BadInputError(f"index {key} is outside the list at {where}")
            if last:
                target[int(key)] = file
                return
            target = target[int(key)]
        elif target is None:
            raise BadInputError(f"{where} is null")
        else:
            raise BadInputError(f"{where} is a {type(target).__name__}, not an object or a list")
        walked.append(key)


class NulFreeUrls:
    """Answers 400 to an HTTP request whose path or query string holds a NUL (%00)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            NUL in scope["path"] or b"%00" in scope["query_string"].lower()
        ):
            body = json.dumps(
                {
                    "status": "error",
                    "error": {
                        "code": "BAD_REQUEST",
                        "message": "the URL may not contain NUL (%00)",
                    },
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
