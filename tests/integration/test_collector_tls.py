"""TLS and mutual TLS on the agent port, with certificates made fresh for each test."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from collector.app import CollectorApp
from collector.server import server_credentials
from common.settings import SettingsError
from proto import agent_pb2
from tests.conftest import Vps, collector_settings, create_vps
from tests.factories import now_ms, performance_batch
from tests.integration.test_collector_ingest import count
from tests.stream_client import TestStream, handshake


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> tuple[Pem, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _pem(cert, key), key, cert


def make_leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str, *, server: bool
) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return _pem(builder.sign(ca_key, hashes.SHA256()), key)


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    return Pem(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


@dataclass(frozen=True)
class Pki:
    ca: Pem
    server: Pem
    client: Pem
    stranger_client: Pem  # signed by another CA
    dir: Path

    def write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o600)
        return str(path)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca, ca_key, ca_cert = make_ca("Tidewatch test CA")
    _, other_key, other_cert = make_ca("Someone else's CA")
    return Pki(
        ca=ca,
        server=make_leaf(ca_key, ca_cert, "collector", server=True),
        client=make_leaf(ca_key, ca_cert, "agent-1", server=False),
        stranger_client=make_leaf(other_key, other_cert, "agent-x", server=False),
        dir=tmp_path,
    )


async def tls_collector(db_dsn: str, pki: Pki, *, mutual: bool) -> CollectorApp:
    app = CollectorApp(
        collector_settings(
            tls_cert_file=pki.write("server.crt", pki.server.cert),
            tls_key_file=pki.write("server.key", pki.server.key),
            tls_client_ca_file=pki.write("client-ca.crt", pki.ca.cert) if mutual else "",
        ),
        db_dsn,
    )
    await app.start()
    return app


@pytest.fixture
async def tls_app(db_dsn: str, pki: Pki) -> AsyncIterator[CollectorApp]:
    app = await tls_collector(db_dsn, pki, mutual=False)
    yield app
    await app.stop(2.0)


@pytest.fixture
async def mtls_app(db_dsn: str, pki: Pki) -> AsyncIterator[CollectorApp]:
    app = await tls_collector(db_dsn, pki, mutual=True)
    yield app
    await app.stop(2.0)


async def stores_a_batch(target: str, vps: Vps, credentials: grpc.ChannelCredentials, dsn: str) -> None:
    stream = TestStream(target, vps.token, credentials=credentials)
    await stream.send(handshake())
    assert (await stream.next("server_handshake_ack")).server_handshake_ack.authenticated
    before = count(dsn, "host_metrics", vps.id)
    await stream.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [now_ms() - 1000])))
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert count(dsn, "host_metrics", vps.id) == before + 1
    await stream.close()


async def refused(target: str, vps: Vps, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    stream = TestStream(target, vps.token, credentials=credentials)
    with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):  # the call may be over
        await stream.send(handshake())
    code = await stream.status()
    await stream.close()
    return code


@pytest.mark.db
async def test_tls_clients_that_trust_the_ca_connect_and_others_cannot(
    tls_app: CollectorApp, db_dsn: str, pki: Pki
) -> None:
    vps = create_vps(db_dsn)
    trusted = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert)
    await stores_a_batch(f"127.0.0.1:{tls_app.port}", vps, trusted, db_dsn)
    await stores_a_batch(f"localhost:{tls_app.port}", vps, trusted, db_dsn)

    untrusting = grpc.ssl_channel_credentials(root_certificates=pki.stranger_client.cert)
    assert await refused(f"127.0.0.1:{tls_app.port}", vps, untrusting) == grpc.StatusCode.UNAVAILABLE
    assert await refused(f"127.0.0.1:{tls_app.port}", vps, None) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.db
async def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(
    mtls_app: CollectorApp, db_dsn: str, pki: Pki
) -> None:
    vps = create_vps(db_dsn)
    target = f"127.0.0.1:{mtls_app.port}"
    with_cert = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert, private_key=pki.client.key, certificate_chain=pki.client.cert
    )
    await stores_a_batch(target, vps, with_cert, db_dsn)

    without_cert = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert)
    assert await refused(target, vps, without_cert) == grpc.StatusCode.UNAVAILABLE
    foreign_cert = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert,
        private_key=pki.stranger_client.key,
        certificate_chain=pki.stranger_client.cert,
    )
    assert await refused(target, vps, foreign_cert) == grpc.StatusCode.UNAVAILABLE
    assert await refused(target, vps, None) == grpc.StatusCode.UNAVAILABLE
    # The certificate only opens the door: the agent token is still required.
    stream = TestStream(target, "twa_AAAAAAAAAAAAAAAA." + "x" * 43, credentials=with_cert)
    await stream.send(handshake())
    assert await stream.status() == grpc.StatusCode.UNAUTHENTICATED
    await stream.close()


def test_incomplete_tls_settings_are_clear_errors(pki: Pki) -> None:
    cert, key = pki.write("s.crt", pki.server.cert), pki.write("s.key", pki.server.key)
    with pytest.raises(SettingsError, match="CLIENT_CA_FILE needs TLS_CERT_FILE"):
        server_credentials(collector_settings(tls_client_ca_file=cert))
    with pytest.raises(SettingsError, match="set both"):
        server_credentials(collector_settings(tls_cert_file=cert))
    with pytest.raises(SettingsError, match=r"cannot read the TLS key at .*missing\.key"):
        server_credentials(collector_settings(tls_cert_file=cert, tls_key_file=str(pki.dir / "missing.key")))
    assert server_credentials(collector_settings(tls_cert_file=cert, tls_key_file=key)) is not None
