"""Pure helpers behind the notification and peer hardening."""

from __future__ import annotations

import pytest

from collector.peer_limits import StreamsPerIp, peer_ip
from common.live_signing import sign_live_payload, verify_live_payload

KEY = bytes(range(48))


def test_a_signed_payload_verifies_and_anything_else_does_not() -> None:
    body = b'{"vps_id":1,"time_ms":2}'
    signed = sign_live_payload(KEY, body)
    assert verify_live_payload(KEY, signed) == body
    assert verify_live_payload(KEY, signed.encode()) == body
    assert verify_live_payload(bytes(48), signed) is None
    assert verify_live_payload(KEY, body.decode()) is None
    assert verify_live_payload(KEY, signed.replace('"time_ms":2', '"time_ms":3')) is None
    assert verify_live_payload(KEY, "v2" + signed[2:]) is None
    assert verify_live_payload(KEY, signed[: signed.rindex(".") + 1]) is None


@pytest.mark.parametrize(
    ("peer", "ip"),
    [
        ("ipv4:127.0.0.1:50123", "127.0.0.1"),
        ("ipv6:[::1]:50123", "::1"),
        ("ipv6:[2001:db8::7]:1", "2001:db8::7"),
        ("unix:/run/x.sock", "unix:/run/x.sock"),
    ],
)
def test_peer_ip(peer: str, ip: str) -> None:
    assert peer_ip(peer) == ip


def test_streams_per_ip_caps_each_address_on_its_own() -> None:
    limits = StreamsPerIp(2)
    assert limits.acquire("a") and limits.acquire("a")
    assert not limits.acquire("a")
    assert limits.acquire("b")
    limits.release("a")
    assert limits.held("a") == 1
    assert limits.acquire("a")
