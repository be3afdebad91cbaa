"""Company domains as the bot keeps them: `https://www.Acme.com/pricing`, `jane@acme.com` and `ACME.COM.`
are all `acme.com`, and anything that is not a plausible domain is None. Accounts, the companies file
and the CRM search all go through this one function, so an account found here is the company found
there. Free-mail domains (gmail.com, …) name a person's mailbox, not their company.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)


@cache
def free_mail_domains() -> frozenset[str]:
    text = resources.files("bot.data").joinpath("free_mail_domains.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def normalise_domain(value: Any) -> str | None:
    """`https://www.Acme.com/pricing` -> `acme.com`; None when it is not a plausible domain."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower())
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1]  # an email, or user info in a URL; only after cutting the path
    text = text.split(":", 1)[0].rstrip(".")
    text = text.removeprefix("www.")
    return text if _DOMAIN.match(text) else None


def is_free_mail(domain: str) -> bool:
    return domain in free_mail_domains()
