"""Making untrusted text safe for Slack: mrkdwn escaping, length limits, and link URLs.

Slack treats only `&`, `<` and `>` as control characters; escaping them neutralises `<!channel>`,
`<@U…>`, `<#C…>` and `<https://evil|PostHog>` alike. Truncation is done on the raw text before
escaping, so an entity like `&amp;` is never cut in half.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

ELLIPSIS = "…"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(text: str) -> str:
    """Drop control characters that render as garbage (tabs and newlines stay)."""
    return _CONTROL.sub("", text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def escape_clip(text: str, limit: int) -> str:
    """Escaped text that fits `limit` characters after escaping."""
    text = clean(text)
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    budget = limit - 1  # room for the ellipsis
    for char in text:
        piece = _ESCAPES.get(char, char)
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + ELLIPSIS


def plain(text: str, limit: int) -> str:
    """Text for plain_text objects: Slack does not parse it, so only cleaning and clipping apply."""
    return clip(clean(text).replace("\n", " ").strip(), limit) or "-"


def safe_url(url: object, limit: int = 3000) -> str | None:
    """An http(s) URL that cannot break out of `<url|label>`: None when unusable."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")  # encodes <, >, |, quotes, spaces and non-ASCII
    return url if len(url) <= limit else None


def link(url: str | None, label: str) -> str:
    """A mrkdwn link, or just the escaped label when there is no safe URL."""
    safe = safe_url(url)
    label = escape(clean(label))
    if safe is None:
        return label
    return f"<{escape(safe)}|{label}>"
