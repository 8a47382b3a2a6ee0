"""Sign and verify ``tidewatch_live`` payloads.

Any database role may NOTIFY, so the API must not take a live payload on its
word. The collector signs each one with an HMAC keyed by a secret in
``tidewatch_private.service_keys``, a table only the services' role can read
(sql/0010_service_keys.sql); the API drops what does not verify.

Wire form: ``v1.<base64url HMAC-SHA256 of the JSON>.<the JSON object>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["LIVE_KEY_QUERY", "sign_live_payload", "verify_live_payload"]

LIVE_KEY_QUERY = "SELECT key FROM tidewatch_private.service_keys WHERE name = 'live_notify_hmac'"
_VERSION = b"v1"


def _mac(key: bytes, body: bytes) -> bytes:
    return base64.urlsafe_b64encode(hmac.digest(key, body, hashlib.sha256)).rstrip(b"=")


def sign_live_payload(key: bytes, body: bytes) -> str:
    """The NOTIFY payload for the JSON ``body``."""
    return (_VERSION + b"." + _mac(key, body) + b"." + body).decode()


def verify_live_payload(key: bytes, payload: str | bytes) -> bytes | None:
    """The JSON body of a genuine payload; None for anything else."""
    raw = payload.encode() if isinstance(payload, str) else payload
    version, _, rest = raw.partition(b".")
    mac, _, body = rest.partition(b".")
    if version != _VERSION or not body:
        return None
    return body if hmac.compare_digest(mac, _mac(key, body)) else None
