"""The TLS context of every IMAP and SMTP connection."""

from __future__ import annotations

import functools
import ssl


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """One verifying context for every connection: loading the system's CA certificates takes
    ~40 ms, most of a poll that finds nothing if done for each. Contexts are thread-safe."""
    return ssl.create_default_context()
