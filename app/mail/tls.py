"""The TLS context of every IMAP and SMTP connection, and TLS failures in words a person can act on.

Verification is always on: the server's certificate must chain to a trusted CA (the system's, or
those of ``tls_ca_file`` for a private CA) and name the host connected to. There is deliberately
no switch to turn it off: a private CA is trusted by naming it, not by trusting everyone."""

from __future__ import annotations

import functools
import ssl

from app.errors import ConfigError

# OpenSSL's X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code) a person can act on.
_UNTRUSTED = {
    2,  # unable to get issuer certificate
    18,  # self-signed certificate
    19,  # self-signed certificate in certificate chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
}
_NOT_YET_VALID = 9
_EXPIRED = 10
_HOST_MISMATCH = {62, 64}  # host name, IP address


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """One verifying context for every connection: loading the system's CA certificates takes
    ~40 ms, most of a poll that finds nothing if done for each. Contexts are thread-safe."""
    return ssl.create_default_context()


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The verifying context trusting ``ca_file``'s CAs (PEM) instead of the system's, built once
    per file like the default one; a file that cannot be loaded is a ConfigError naming it."""
    if ca_file is None:
        return default_tls_context()
    try:
        return _private_ca_context(ca_file)
    except OSError as e:
        # ssl.SSLError is an OSError too: a file that is no PEM certificate ends here.
        problem = e.strerror or getattr(e, "reason", None) or str(e)
        raise ConfigError(
            f"tls_ca_file {ca_file}: cannot load its CA certificates ({problem})"
        ) from None


@functools.cache
def _private_ca_context(ca_file: str) -> ssl.SSLContext:
    # Cached by path: the file is read when first used; a changed file takes a restart. A failed
    # load raises and is not cached, so a fixed file works on the next connection.
    return ssl.create_default_context(cafile=ca_file)


def describe_tls_failure(error: ssl.SSLError, *, ca_file: str | None) -> str:
    """Why a TLS handshake failed, with what to do about it where that is known."""
    if isinstance(error, ssl.SSLCertVerificationError):
        code, message = error.verify_code, (error.verify_message or "").rstrip(".")
        if code in _HOST_MISMATCH:
            return (
                f"the certificate is for another host name ({message}); connect to a name "
                "the certificate lists"
            )
        if code in _UNTRUSTED:
            hint = (
                f"check that tls_ca_file {ca_file} holds the CA that signed it"
                if ca_file
                else "set tls_ca_file if it uses a private CA"
            )
            return (
                "the server's certificate is not signed by a trusted CA "
                f"(certificate verify failed: {message}); {hint}"
            )
        if code == _EXPIRED:
            return f"the server's certificate has expired ({message})"
        if code == _NOT_YET_VALID:
            return (
                f"the server's certificate is not valid yet ({message}); check this machine's clock"
            )
        return f"the server's certificate was refused (certificate verify failed: {message})"
    if error.reason == "WRONG_VERSION_NUMBER":
        return (
            "the server did not answer in TLS (WRONG_VERSION_NUMBER); check the port and "
            "security (ssl: TLS from the start, starttls: plain first)"
        )
    return str(error.reason or error)
