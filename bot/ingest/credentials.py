"""Who may post to the webhook: a shared secret header, or a Standard Webhooks signature.

Secrets are compared in constant time. The signature scheme is https://www.standardwebhooks.com:
`webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`,
keyed with the base64-decoded `whsec_` secret, and the timestamp must be within five minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

TOLERANCE_S = 300


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def shared_secret_ok(headers: Mapping[str, str], secret: str | None) -> bool:
    """`Authorization: Bearer <secret>` or `X-Webhook-Secret: <secret>`."""
    if not secret:
        return False
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token and _equal(token.strip(), secret):
        return True
    header_secret = headers.get("x-webhook-secret")
    return bool(header_secret) and _equal(header_secret, secret)


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (`whsec_` + base64); other secrets are used as is."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise ValueError("POSTHOG_WEBHOOK_SIGNING_SECRET: the part after whsec_ is not base64") from None
    return secret.encode()


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def may_be_signed(
    headers: Mapping[str, str], key: bytes | None, clock: Callable[[], float] = time.time
) -> bool:
    """Whether the headers could carry a valid Standard Webhooks signature (all three present, the
    timestamp fresh), so the body is worth reading to check it."""
    if key is None:
        return False
    timestamp = headers.get("webhook-timestamp")
    if not (headers.get("webhook-id") and timestamp and headers.get("webhook-signature")):
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    return abs(clock() - sent_at) <= TOLERANCE_S


def standard_signature_ok(
    headers: Mapping[str, str], body: bytes, key: bytes | None, clock: Callable[[], float] = time.time
) -> bool:
    if key is None or not may_be_signed(headers, key, clock):
        return False
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    signatures = headers["webhook-signature"]
    expected = sign(key, msg_id, timestamp, body)
    return any(_equal(candidate, expected) for candidate in signatures.split() if candidate.startswith("v1,"))
