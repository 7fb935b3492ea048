"""TLS contexts for Twisted's TLS layer (pyOpenSSL) and what a failed handshake means.

Client side (RFC 5922 §7): the server certificate is checked against the *SIP domain* the request
is for (``tls_name``), not against the IP address DNS resolution gave -- the name is what the user
trusts, the address is only where the server happens to be. With verification on, OpenSSL checks
that the chain leads to a CA from ``ca_list`` (a PEM file) or from the system's default trust store,
and `service_identity` checks the leaf's subjectAltName (DNS names, or IP addresses when the name is
an IP literal). With verification off nothing about the certificate is checked. Either way a DNS
name is sent in SNI.

Server side: certificate chain + private key from PEM files; client certificates are not requested.

Both sides: TLS 1.2 or later, no compression, no renegotiation. Contexts are built with
`cryptography` objects directly (pyOpenSSL deprecates its own X509/PKey types), once per
configuration, and shared by every connection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IOpenSSLServerConnectionCreator
from twisted.python.failure import Failure
from zope.interface import implementer

from ._errors import ConnectionFailed, TLSVerificationFailed

__all__ = [
    "ClientCreator",
    "Identity",
    "ServerCreator",
    "TLSConfiguration",
    "TLSConfigurationError",
    "classify_tls_failure",
    "load_identity",
]

PathLike = str | Path

_OPTIONS = SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION


class TLSConfigurationError(ValueError):
    """A certificate, key or CA file is missing or unreadable, or they do not belong together."""


def _read(path: PathLike, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TLSConfigurationError(f"cannot read the TLS {what} {str(path)!r}: {error.strerror}") from error


def _load_certificates(path: PathLike, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path, what))
    except ValueError as error:
        raise TLSConfigurationError(f"no PEM certificate in the TLS {what} {str(path)!r}") from error


@dataclass(frozen=True)
class Identity:
    """Our certificate (leaf first, then intermediates) and its private key."""

    chain: tuple[x509.Certificate, ...]
    key: Any  # a cryptography private key of a type OpenSSL can use (RSA, EC, Ed25519, Ed448, DSA)


def load_identity(certificate: PathLike, private_key: PathLike | None) -> Identity:
    """Read a PEM certificate chain and its unencrypted PEM private key (which may be in the same
    file, then ``private_key`` is None)."""
    chain = _load_certificates(certificate, "certificate")
    key_data = _read(private_key if private_key is not None else certificate, "private key")
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except (ValueError, TypeError) as error:
        raise TLSConfigurationError(
            f"no usable unencrypted PEM private key for {str(certificate)!r}"
        ) from error
    return Identity(tuple(chain), key)


def _context(identity: Identity | None, *, server: bool) -> SSL.Context:
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(_OPTIONS | (SSL.OP_CIPHER_SERVER_PREFERENCE if server else 0))
    if identity is not None:
        try:
            context.use_certificate(identity.chain[0])
            for intermediate in identity.chain[1:]:
                context.add_extra_chain_cert(intermediate)
            context.use_privatekey(identity.key)
            context.check_privatekey()
        except SSL.Error as error:
            raise TLSConfigurationError(f"the TLS certificate and private key do not fit: {error}") from error
    return context


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@implementer(IOpenSSLServerConnectionCreator)
class ServerCreator:
    """Server connections sharing one context (built at once, so a bad key fails at listen time)."""

    def __init__(self, identity: Identity) -> None:
        self._context = _context(identity, server=True)

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        return SSL.Connection(self._context, None)


@implementer(IOpenSSLClientConnectionCreator)
class ClientCreator:
    """Client connections to one server name, on a shared context; verifying it when ``verify``."""

    def __init__(self, context: SSL.Context, server_name: str, *, verify: bool) -> None:
        self._context = context
        self.server_name = server_name
        self.verify = verify
        self._sni = None if _is_ip(server_name) else server_name.encode("idna")

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        if self._sni is not None:
            connection.set_tlsext_host_name(self._sni)
        if self.verify:
            connection.set_verify(
                SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verifier(tlsProtocol)
            )
        return connection

    def _verifier(self, tls_protocol: Any) -> Any:
        name = self.server_name
        check = verify_certificate_ip_address if _is_ip(name) else verify_certificate_hostname

        def verify(connection: SSL.Connection, certificate: Any, error: int, depth: int, ok: int) -> bool:
            if not ok or depth != 0:
                return bool(ok)  # OpenSSL judged the chain; we only add the name check on the leaf
            try:
                check(certificate.to_cryptography(), name)
            except (VerificationError, CertificateError):
                tls_protocol.failVerification(Failure())  # the reason connectionLost will report
                return False
            except Exception:  # never let an exception escape into OpenSSL
                tls_protocol.failVerification(Failure())
                return False
            return True

        return verify


@dataclass
class TLSConfiguration:
    """The manager-level TLS settings; files are read on first use and the results kept."""

    verify_server: bool = True
    ca_list: PathLike | None = None
    certificate: PathLike | None = None
    private_key: PathLike | None = None
    _client_context: SSL.Context | None = field(default=None, init=False, repr=False)
    _identity: Identity | None = field(default=None, init=False, repr=False)
    _identity_loaded: bool = field(default=False, init=False, repr=False)

    def identity(self) -> Identity | None:
        """Our own certificate and key (None if not configured)."""
        if not self._identity_loaded:
            if self.certificate is not None:
                self._identity = load_identity(self.certificate, self.private_key)
            self._identity_loaded = True
        return self._identity

    def client_creator(self, server_name: str) -> ClientCreator:
        """Options for one outgoing connection whose certificate must be valid for ``server_name``."""
        if self._client_context is None:
            context = _context(self.identity(), server=False)
            if self.verify_server:
                if self.ca_list is None:
                    context.set_default_verify_paths()
                else:
                    _load_certificates(self.ca_list, "CA list")  # a clear error for a bad file
                    context.load_verify_locations(str(self.ca_list))
            self._client_context = context
        return ClientCreator(self._client_context, server_name, verify=self.verify_server)

    def server_creator(
        self, certificate: PathLike | None = None, private_key: PathLike | None = None
    ) -> ServerCreator:
        """Options for a listening socket; the listener's own files win over the manager's."""
        identity = load_identity(certificate, private_key) if certificate is not None else self.identity()
        if identity is None:
            raise TLSConfigurationError("a TLS listener needs a certificate and a private key")
        return ServerCreator(identity)


def classify_tls_failure(reason: Failure, server_name: str | None) -> ConnectionFailed | None:
    """Map why a TLS connection was lost before its handshake completed to our error, or None when
    the reason is not about TLS (a plain connection error)."""
    value = reason.value
    if isinstance(value, VerificationError | CertificateError):
        return TLSVerificationFailed(f"the server certificate is not valid for {server_name!r}: {value}")
    if isinstance(value, SSL.Error):
        text = _ssl_error_text(value)
        if "certificate verify failed" in text:
            return TLSVerificationFailed(
                f"the server certificate for {server_name!r} is not trusted ({text})"
            )
        return ConnectionFailed(f"TLS handshake failed: {text}")
    return None


def _ssl_error_text(error: SSL.Error) -> str:
    details = error.args[0] if error.args and isinstance(error.args[0], list) else []
    parts = [str(item[-1]) for item in details if isinstance(item, tuple) and item and item[-1]]
    return ", ".join(parts) or str(error)
