"""A webhook delivery connects to the address it checked, and TLS still checks the receiver's name.

Before, this was shown only with ``httpx.MockTransport`` (the request's URL held the address and
its ``sni_hostname`` extension the name): nothing showed that a real TLS handshake to the pinned
address sends the name in SNI, that the receiver's certificate is verified against the name, or
that a pin to another server (a DNS answer rebound to an impostor) is refused by the handshake.

Here, two real HTTPS servers listen on the same port: the receiver on 127.0.0.1 with a
certificate for ``hooks.receiver.invalid``, an impostor on 127.0.0.2 with a certificate for
another name from the same authority (and, in the last case, one for the right name from an
authority the client does not trust). Certificates are made in the test with ``cryptography``;
the client trusts the test's authority through ``SSL_CERT_FILE``, as httpx reads it, so the
delivery runs the product's own path unchanged: ``deliver_due`` builds its client,
``check_destination`` resolves the name through the stub resolver (the pin), and
``send_delivery`` connects to the pinned address. The ``.invalid`` name resolves nowhere else,
so a delivery can only have reached a server through the pin. The two loopback addresses stand
in for public ones: ``is_internal_address`` is told to pass exactly these (and a third, for
the untrusted authority's server).
"""

from __future__ import annotations

import datetime
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from link_tracking_publisher.clicks import webhooks
from link_tracking_publisher.clicks.webhooks import deliver_due, new_secret, verify
from link_tracking_publisher.models import ClickWebhook, ClickWebhookDelivery
from link_tracking_publisher.validators import is_internal_address
from tests.clicks.conftest import stub_resolver

pytestmark = pytest.mark.django_db

HOST = "hooks.receiver.invalid"
RECEIVER, IMPOSTOR, UNTRUSTED = "127.0.0.1", "127.0.0.2", "127.0.0.3"
Status = ClickWebhookDelivery.Status


#: Either side of now, for the test certificates. OpenSSL checks them against the system clock,
#: which ``make test-shifted`` (``--shift-clock-days``) does not move, while ``now`` here is the
#: shifted one: the window holds both.
VALIDITY = datetime.timedelta(days=400)


class Authority:
    """A certificate authority made for one test, issuing server certificates."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.name = subject
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - VALIDITY)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, folder: Path, dns_name: str) -> tuple[Path, Path]:
        """(certificate chain file, key file) of a server certificate for ``dns_name``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - VALIDITY)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = folder / f"{dns_name}-{id(certificate)}"
        chain, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + self.pem())
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return chain, key_file


class Server:
    """An HTTPS server on ``address:port`` answering 204 to every POST, recording what the
    handshake (SNI) and the requests (headers, body) carried."""

    def __init__(self, address: str, port: int, chain: Path, key: Path) -> None:
        self.server_names: list[str | None] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
        received = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((address, port), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Authority:
    """The authority the delivery client trusts (and no other: not the system's store)."""
    authority = Authority("link-tracking test authority")
    bundle = tmp_path / "trusted.pem"
    bundle.write_bytes(authority.pem())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return authority


@pytest.fixture
def public_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two test addresses pass the private-address rule; every other address is judged
    by the product's rule."""
    stand_ins = {RECEIVER, IMPOSTOR, UNTRUSTED}
    monkeypatch.setattr(
        webhooks,
        "is_internal_address",
        lambda value: value not in stand_ins and is_internal_address(value),
    )


@pytest.fixture
def servers(authority: Authority, tmp_path: Path) -> Iterator[dict[str, Server]]:
    receiver = Server(RECEIVER, 0, *authority.issue(tmp_path, HOST))
    impostor = Server(IMPOSTOR, receiver.port, *authority.issue(tmp_path, "impostor.invalid"))
    stranger = Authority("an authority nobody trusts")
    # The right name, from an authority the client does not trust, on a third address.
    untrusted = Server(UNTRUSTED, receiver.port, *stranger.issue(tmp_path, HOST))
    try:
        yield {"receiver": receiver, "impostor": impostor, "untrusted": untrusted}
    finally:
        for server in (receiver, impostor, untrusted):
            server.close()


@pytest.fixture
def delivery(account_a: Any, servers: dict[str, Server]) -> ClickWebhookDelivery:
    # Written directly: the API takes port 443 only, which a test cannot listen on.
    webhook = ClickWebhook.objects.create(
        account=account_a,
        url=f"https://{HOST}:{servers['receiver'].port}/clicks",
        secret=new_secret(),
    )
    return ClickWebhookDelivery.objects.create(
        webhook=webhook,
        event_id="event-1",
        payload={"type": "link.clicked", "event_id": "event-1", "sms_msg_id": None},
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1),
    )


def test_a_delivery_pinned_to_the_receiver_is_delivered_over_verified_tls(
    public_loopback: None,
    webhook_dns: dict[str, list[str]],
    servers: dict[str, Server],
    delivery: ClickWebhookDelivery,
) -> None:
    webhook_dns[HOST] = [RECEIVER]
    assert deliver_due() == {"delivered": 1}
    receiver = servers["receiver"]
    assert receiver.server_names == [HOST]  # SNI names the host, not the address
    ((headers, body),) = receiver.requests
    assert headers["host"] == f"{HOST}:{receiver.port}"
    assert verify(delivery.webhook.secret, headers, body)
    assert json.loads(body)["event_id"] == "event-1"
    assert (servers["impostor"].requests, servers["untrusted"].requests) == ([], [])


@pytest.mark.parametrize(
    ("server", "address", "reason"),
    [
        ("impostor", IMPOSTOR, "Hostname mismatch"),
        ("untrusted", UNTRUSTED, "self-signed certificate in certificate chain"),
    ],
)
def test_a_delivery_pinned_to_another_server_is_refused_by_the_handshake(
    public_loopback: None,
    webhook_dns: dict[str, list[str]],
    servers: dict[str, Server],
    delivery: ClickWebhookDelivery,
    server: str,
    address: str,
    reason: str,
) -> None:
    """The name resolves (is pinned) to a server that cannot prove it is the receiver: a
    certificate for another name, or the right name from an authority nobody trusts."""
    webhook_dns[HOST] = [address]
    assert deliver_due() == {"pending": 1}
    delivery.refresh_from_db()
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert reason in delivery.last_error
    assert delivery.delivered_at is None and delivery.attempts == 1
    assert servers[server].server_names == [HOST]  # the handshake was to the pinned address
    assert servers[server].requests == []  # and no request went over it
    assert servers["receiver"].requests == []


#: Every name the counting resolver was asked for.
LOOKUPS: list[str] = []


def counting_resolver(host: str, port: int) -> list[str]:
    LOOKUPS.append(host)
    return stub_resolver(host, port)


def test_the_pin_is_the_checked_address_not_a_second_lookup(
    public_loopback: None,
    webhook_dns: dict[str, list[str]],
    servers: dict[str, Server],
    delivery: ClickWebhookDelivery,
    settings: Any,
) -> None:
    """The name is resolved once, by the check: were the client to resolve it again (the
    system resolver, which knows no ``.invalid`` name) the delivery could not connect."""
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "CLICK_WEBHOOK_RESOLVER": f"{__name__}.counting_resolver",
    }
    LOOKUPS.clear()
    webhook_dns[HOST] = [RECEIVER]
    assert deliver_due() == {"delivered": 1}
    assert LOOKUPS == [HOST]
