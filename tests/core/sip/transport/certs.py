"""Throwaway certificates made at test time with `cryptography` (no key material in the repository).

`make_pki(directory)` writes a CA, a server certificate it signed for ``sip.example.test`` (and the
loopback addresses), and a self-signed server certificate, as PEM files, and returns their paths.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAME = "sip.example.test"


@dataclass(frozen=True)
class PKI:
    ca_certificate: Path
    server_certificate: Path
    server_key: Path
    self_signed_certificate: Path
    self_signed_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    names: list[x509.GeneralName],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> PKI:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("sipsimple test CA", ca_key, "sipsimple test CA", ca_key, ca=True, names=[])
    server_names: list[x509.GeneralName] = [
        x509.DNSName(SERVER_NAME),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(SERVER_NAME, server_key, "sipsimple test CA", ca_key, ca=False, names=server_names)
    lone_key = ec.generate_private_key(ec.SECP256R1())
    lone = _certificate(
        "self-signed.example.test", lone_key, "self-signed.example.test", lone_key, ca=False,
        names=[x509.DNSName("self-signed.example.test")],
    )  # fmt: skip
    pki = PKI(
        ca_certificate=directory / "ca.pem",
        server_certificate=directory / "server.pem",
        server_key=directory / "server.key",
        self_signed_certificate=directory / "self-signed.pem",
        self_signed_key=directory / "self-signed.key",
    )
    pki.ca_certificate.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    _write_key(server_key, pki.server_key)
    pki.self_signed_certificate.write_bytes(lone.public_bytes(serialization.Encoding.PEM))
    _write_key(lone_key, pki.self_signed_key)
    return pki
