"""The lab's certificate authorities and the keys and certificates they issue.

One piece of code makes every certificate of the lab: the ARM emulator's CA and HTTPS server
certificate (``lab.azure.server``) and the Kubernetes control plane's CA with its serving and
client certificates (``lab.kube.controlplane``). Each part keeps a CA of its own, made once in its
state folder and reused, so clients keep trusting a restarted lab. Certificate keys are EC P-256;
RSA keys are for signers that need them (service-account tokens, Entra ID tokens).
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)


def name(common_name: str, organization: str = "") -> x509.Name:
    """A subject: CN, and O when given (Kubernetes reads O as the group of a client certificate)."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def rsa_key():
    """A 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> bytes:
    """A private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_pem(key) -> bytes:
    """The public half of a key as PEM."""
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate_pem(certificate) -> bytes:
    """A certificate as PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def write(path, data: bytes, private: bool = False) -> None:
    """Write PEM data; private keys are readable by the owner only."""
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600 if private else 0o644)


def _alternative_name(value: str):
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


class Authority:
    """A certificate authority: a new key and self-signed certificate that issue leaf certificates."""

    def __init__(self, subject: x509.Name):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.start, self.end = now - datetime.timedelta(days=1), now + VALIDITY
        usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                              key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False)
        self.certificate = (
            self._builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def _builder(self, subject, issuer, public_key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(self.start).not_valid_after(self.end))

    def issue(self, subject: x509.Name, server_names=(), client: bool = False):
        """A new key and a certificate for it: a server's for ``server_names`` (DNS names, IP addresses), a client's if ``client``."""
        key = ec.generate_private_key(ec.SECP256R1())
        usages = ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + ([ExtendedKeyUsageOID.SERVER_AUTH] if server_names else [])
        usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                              key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
        builder = (
            self._builder(subject, self.certificate.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if server_names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_alternative_name(value) for value in server_names]), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())
