"""Readable terminal previews of Slack messages, and Block Kit Builder links to see them for real.

Used by `demo` and, later, dry runs: the preview shows what Slack would show (entities decoded,
links as their labels, buttons as buttons) without a workspace.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

BLOCK_KIT_BUILDER = "https://app.slack.com/block-kit-builder/#"
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
_DATE = re.compile(r"<!date\^\d+\^[^|]*\|([^>]*)>")
_USER = re.compile(r"<@([A-Z0-9]+)>")
_EMOJI = {
    ":white_check_mark:": "✅",
    ":thread:": "🧵",
    ":x:": "❌",
    ":grey_question:": "❔",
}


def block_kit_builder_url(blocks: list[dict[str, Any]]) -> str:
    """A link that opens these blocks in Slack's Block Kit Builder."""
    return BLOCK_KIT_BUILDER + quote(json.dumps({"blocks": blocks}, separators=(",", ":")), safe="")


def mrkdwn_to_text(mrkdwn: str) -> Text:
    """Approximate Slack's rendering: links show their label, dates their fallback, *bold* is bold."""
    text = _LINK.sub(lambda m: f"{m.group(2)}↗", mrkdwn)
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _USER.sub(lambda m: f"@{m.group(1)}", text)
    for code, emoji in _EMOJI.items():
        text = text.replace(code, emoji)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    out = Text()
    for i, part in enumerate(re.split(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", text)):
        out.append(part, style="bold" if i % 2 else "")
    return out


def _text_of(obj: dict[str, Any]) -> Text:
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_text(obj.get("text", ""))
    return Text(obj.get("text", ""))


def _element(element: dict[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        label = element["text"]["text"]
        return f"[ {label} ↗ ]" if element.get("url") else f"[ {label} ]"
    if kind == "static_select":
        return f"[ {element['placeholder']['text']} ▾ ]"
    return f"[ {kind} ]"


def render_blocks(blocks: list[dict[str, Any]]) -> RenderableType:
    parts: list[RenderableType] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            parts.append(Text(block["text"]["text"], style="bold"))
        elif kind == "section":
            if "text" in block:
                parts.append(_text_of(block["text"]))
            if block.get("accessory"):
                parts.append(Text(_element(block["accessory"]), style="cyan"))
            if block.get("fields"):
                grid = Table.grid(padding=(0, 3))
                grid.add_column()
                grid.add_column()
                fields = [_text_of(f) for f in block["fields"]]
                for i in range(0, len(fields), 2):
                    grid.add_row(*fields[i : i + 2])
                parts.append(grid)
        elif kind == "context":
            line = Text(style="dim")
            for element in block.get("elements", []):
                line.append_text(_text_of(element))
            parts.append(line)
        elif kind == "actions":
            parts.append(Text("  ".join(_element(e) for e in block.get("elements", [])), style="cyan"))
        elif kind == "divider":
            parts.append(Text("─" * 40, style="dim"))
        parts.append(Text(""))
    return Group(*parts[:-1])


def render_message(channel: str, message: dict[str, Any], note: str = "") -> Panel:
    """A message as Slack would show it; `note` says more of how it was sent (a reply, an update)."""
    return Panel(
        render_blocks(message.get("blocks") or []),
        title=f"#{channel}",
        title_align="left",
        subtitle=f"chat.postMessage{note}",
        subtitle_align="right",
    )
