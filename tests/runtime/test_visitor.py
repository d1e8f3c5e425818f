from __future__ import annotations

import hashlib

from link_tracking_runtime.click import visitor_key
from runtime_service.visitor import IpHasher, client_ip


def test_client_ip_is_taken_from_the_trusted_end_of_x_forwarded_for() -> None:
    headers = {"x-forwarded-for": "6.6.6.6, 198.51.100.10, 130.176.0.1"}
    # CloudFront appended the visitor, the ALB appended CloudFront: two trusted proxies.
    assert client_ip(headers, "10.0.0.5", 2) == "198.51.100.10"
    assert client_ip(headers, "10.0.0.5", 1) == "130.176.0.1"
    assert client_ip(headers, "10.0.0.5", 0) == "10.0.0.5"
    assert client_ip({"x-forwarded-for": "198.51.100.10"}, "10.0.0.5", 2) == "198.51.100.10"
    assert client_ip({}, "10.0.0.5", 2) == "10.0.0.5"


def test_ip_hash_is_keyed() -> None:
    one, two = IpHasher(b"key-one-0123456789"), IpHasher(b"key-two-0123456789")
    assert one("198.51.100.10") == one("198.51.100.10")
    assert one("198.51.100.10") != two("198.51.100.10")
    assert one("198.51.100.10") != hashlib.sha256(b"198.51.100.10").hexdigest()
    assert "198.51.100.10" not in one("198.51.100.10")


def test_visitor_key_prefers_the_sms_message() -> None:
    assert visitor_key("42", "h1", "ua") == visitor_key("42", "h2", "other ua") == "sms:42"
    assert visitor_key(None, "h1", "ua") != visitor_key(None, "h2", "ua")
    assert visitor_key(None, "h1", "ua") == visitor_key(None, "h1", "ua") == "ip:h1\nua"
