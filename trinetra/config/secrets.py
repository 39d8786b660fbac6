"""Masking camera sources: the one function every place that shows or logs a source uses.

A camera source is a URL an operator pasted, and cameras carry their credentials in it in
every way there is: `rtsp://admin:pw@host/...` (userinfo), `?user=admin&password=pw`
or `?token=...` (query), DVR paths such as `/user=admin_password=pw_channel=1.sdp`, and
signed URLs (`?X-Amz-Signature=...`). `mask_source` keeps what an operator needs to tell
cameras apart (scheme, host, port, path, harmless parameters) and replaces each secret
with `***`:

    rtsp://admin:***@10.0.0.5:554/stream1?channel=1&token=***

What counts as a secret parameter (`is_secret_name`): a name, split into words at
`_ - .` and camelCase boundaries, containing a word such as password, passwd, pwd, pass,
token, auth, key, apikey, secret, signature, sig, credential(s), session, jwt; a name
containing one of those as a substring where that cannot be an ordinary word (`passw`,
`token`, `secret`, `signature`, `credential`, `apikey`, `accesskey`, `session`,
`sessid`: jsessionid, PHPSESSID); and every
`X-Amz-*` / `X-Goog-*` parameter of a signed URL.

The masker never raises, on any string. It prefers masking too much to too little: in a
path, a secret value runs to the next `;`, `&`, `?` or `#` (a DVR path such as
`password=pw_channel=1` loses its channel, never the password), and a user:password
part that ends in a `/` of an unescaped password is still masked. The user name is kept
(it tells an operator which account the camera uses).

`scrub` removes a source's secrets from free text (an exception message of a library
that echoes the URL it was given), for the places that log or publish such text.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, unquote_plus

__all__ = ["MASK", "is_secret_name", "mask_source", "scrub", "secret_values"]

MASK: Final = "***"

_SECRET_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "passcode",
        "token",
        "auth",
        "authorization",
        "key",
        "apikey",
        "secret",
        "signature",
        "sig",
        "credential",
        "credentials",
        "session",
        "sessionid",
        "jwt",
        "hmac",
    }
)
_SECRET_SUBSTRINGS: Final = (
    "passw",
    "token",
    "secret",
    "signature",
    "credential",
    "apikey",
    "accesskey",
    "session",
    "sessid",
)
_SECRET_PREFIXES: Final = ("x-amz-", "x-goog-")

# camelCase boundaries (accessToken -> access Token), then separators.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
# A parameter name just before '=': letters, digits, _ - . and percent escapes.
_NAME_BEFORE_EQUALS = re.compile(r"[A-Za-z0-9_.\-%+]+=")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")

# Where a secret value ends, by part of the URL (module docs: paths over-mask).
_PATH_VALUE_END: Final = ";&?#"
_QUERY_VALUE_END: Final = "&;#"
_FRAGMENT_VALUE_END: Final = "&;"

# Shorter values are not scrubbed from free text: "1" would garble every number in it.
MIN_SCRUB_LENGTH: Final = 3


def is_secret_name(name: str) -> bool:
    """Whether a URL parameter with this name (percent-decoded) carries a secret."""
    lowered = name.strip().lower()
    if not lowered:
        return False
    if lowered.startswith(_SECRET_PREFIXES):
        return True
    compact = _SEPARATORS.sub("", lowered)
    if compact in _SECRET_WORDS or any(s in compact for s in _SECRET_SUBSTRINGS):
        return True
    words = _SEPARATORS.split(_CAMEL.sub(" ", name.strip()).lower())
    return any(word in _SECRET_WORDS for word in words)


def _secret_spans(text: str, value_end: str) -> list[tuple[int, int]]:
    """(start, end) of every secret parameter value in `text` (name=value pairs)."""
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        match = _NAME_BEFORE_EQUALS.search(text, position)
        if match is None:
            return spans
        name = match.group()[:-1]
        start = match.end()
        position = start
        if is_secret_name(unquote_plus(name)):
            end = start
            while end < len(text) and text[end] not in value_end:
                end += 1
            spans.append((start, end))
            position = end


def _mask_params(text: str, value_end: str) -> str:
    out: list[str] = []
    last = 0
    for start, end in _secret_spans(text, value_end):
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)


def _split(source: str) -> tuple[str, str, str, str, str, str]:
    """(scheme with ':', '//' or '', userinfo, host[:port], path, query-and-fragment)
    where userinfo is everything before the authority's last '@' ('' when none)."""
    scheme_match = _SCHEME.match(source)
    scheme = scheme_match.group() if scheme_match else ""
    if len(scheme) == 2:  # a Windows drive letter (C:), not a scheme
        scheme = ""
    rest = source[len(scheme) :]
    if not rest.startswith("//"):
        return scheme, "", "", "", rest, ""
    rest = rest[2:]
    # The authority ends at the first / ? or #; an '@' further on, before any ? or #,
    # with a ':' before it, is read as a password holding an unescaped '/' (over-mask).
    authority_end = len(rest)
    for i, ch in enumerate(rest):
        if ch in "/?#":
            authority_end = i
            break
    at = rest.rfind("@", 0, authority_end)
    if at < 0:
        query_start = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
        limit = len(rest) if query_start < 0 else query_start
        late_at = rest.rfind("@", 0, limit)
        if late_at >= 0 and ":" in rest[:late_at]:
            at = late_at
            slash = rest.find("/", late_at)
            authority_end = slash if 0 <= slash < limit else limit
    userinfo = rest[:at] if at >= 0 else ""
    hostport = rest[at + 1 : authority_end] if at >= 0 else rest[:authority_end]
    after = rest[authority_end:]
    cut = min((i for i in (after.find("?"), after.find("#")) if i >= 0), default=len(after))
    return scheme, "//", userinfo, hostport, after[:cut], after[cut:]


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if colon else user


def mask_source(source: str) -> str:
    """The source with every credential replaced by `***` (module docs); never raises."""
    try:
        scheme, slashes, userinfo, hostport, path, tail = _split(source)
        query, hash_, fragment = tail.partition("#")
        masked = [scheme, slashes]
        if userinfo:
            masked.append(f"{_mask_userinfo(userinfo)}@")
        masked.append(hostport)
        masked.append(_mask_params(path, _PATH_VALUE_END))
        masked.append(_mask_params(query, _QUERY_VALUE_END))
        if hash_:
            masked.append(hash_ + _mask_params(fragment, _FRAGMENT_VALUE_END))
        return "".join(masked)
    except Exception:  # a masker that fails must not show the source instead
        return MASK


def secret_values(source: str) -> list[str]:
    """The secrets `mask_source` hides in `source`, as written and percent-decoded,
    longest first (what `scrub` looks for)."""
    try:
        _, _, userinfo, _, path, tail = _split(source)
    except Exception:
        return [source]
    values: list[str] = []
    if ":" in userinfo:
        values.append(userinfo.partition(":")[2])
    query, _, fragment = tail.partition("#")
    for text, end in (
        (path, _PATH_VALUE_END),
        (query, _QUERY_VALUE_END),
        (fragment, _FRAGMENT_VALUE_END),
    ):
        values.extend(text[start:stop] for start, stop in _secret_spans(text, end))
    found: set[str] = set()
    for value in values:
        for form in (value, unquote(value), unquote_plus(value)):
            if len(form) >= MIN_SCRUB_LENGTH:
                found.add(form)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, source: str) -> str:
    """`text` with `source` shown masked and each of its secrets replaced by `***`."""
    if source:
        text = text.replace(source, mask_source(source))
    for value in secret_values(source):
        text = text.replace(value, MASK)
    return text
