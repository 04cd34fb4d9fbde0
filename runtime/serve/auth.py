"""Who may call the service: a shared key (`Authorization: Bearer <LEADRULES_API_KEY>`) and HubSpot's
v3 request signature, both compared in constant time. See docs/serve.md, "Authentication".
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

# HubSpot rejects a signature whose time stamp is more than five minutes old.
HUBSPOT_WINDOW_MS = 5 * 60 * 1000

# The URL-encoded characters HubSpot's v3 algorithm decodes in the request URI before signing.
_HUBSPOT_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
                   "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def bearer_ok(header: str | None, key: str) -> bool:
    """`Authorization: Bearer <key>`, the key compared in constant time."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), key.encode("utf-8"))


def hubspot_uri(uri: str) -> str:
    """The request URI as HubSpot signs it: the listed percent-escapes decoded (any case)."""
    out, i = [], 0
    while i < len(uri):
        esc = uri[i:i + 3].upper()
        if uri[i] == "%" and esc in _HUBSPOT_DECODE:
            out.append(_HUBSPOT_DECODE[esc])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature: base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    msg = method.upper().encode("utf-8") + hubspot_uri(uri).encode("utf-8") + body + timestamp.encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).digest()).decode("ascii")


def hubspot_check(secret: str, method: str, uri: str, body: bytes, signature: str | None,
                  timestamp: str | None, now_ms: int | None = None) -> str | None:
    """None when the request carries a valid, fresh v3 signature, else why not (for the 401)."""
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    try:
        ts = int(timestamp.strip())
    except ValueError:
        return "X-HubSpot-Request-Timestamp is not a number of milliseconds"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - ts) > HUBSPOT_WINDOW_MS:
        return "the HubSpot request time stamp is more than 5 minutes old (or ahead)"
    want = hubspot_signature(secret, method, uri, body, timestamp.strip())
    if not hmac.compare_digest(want.encode("ascii"), signature.strip().encode("utf-8", "replace")):
        return "the HubSpot signature does not match"
    return None
