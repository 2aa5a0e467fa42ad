"""Webhook signatures, for Duban and for the systems that receive its deliveries.

Every delivery carries `X-Duban-Signature: t=<unix seconds>,v1=<hex>`, where <hex> is
HMAC-SHA256, keyed with the subscription's secret, of the bytes `<t>.<body>` (the timestamp, a
dot, then the raw request body exactly as received). A receiver checks it before trusting the
body, and refuses old timestamps so that a captured delivery cannot be replayed later:

    from app.events.signing import verify

    if not verify(SECRET, request.headers["X-Duban-Signature"], raw_body, tolerance=300):
        return 401

Receivers in other languages: split the header on ",", take `t` and every `v1`, compute the
HMAC over f"{t}.".encode() + body, compare in constant time, and check |now - t| <= tolerance.
The X-Duban-Delivery header is the delivery's id; it is the same on every retry of one
delivery, so a receiver can ignore a delivery it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Duban-Signature"


def signature(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, t: int, body: bytes) -> str:
    """The X-Duban-Signature header value for `body` sent at unix time `t`."""
    return f"t={t},v1={signature(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300,
           now: float | None = None) -> bool:
    """Whether `header` signs `body` with `secret`, at a time within `tolerance` seconds of now."""
    t, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        # ASCII and short: int() refuses "²" and 4,300 digits, and a receiver must not raise.
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            t = int(value)
        elif key == "v1":
            candidates.append(value)
    if t is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature(secret, t, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
