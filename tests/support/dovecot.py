"""A private Dovecot IMAP server on 127.0.0.1 for the tests: its own config, users and mail."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from tests.support.tls_certs import ServerCert

DOVECOT = "/usr/sbin/dovecot"
NOBODY = 65534  # as root, mail belongs to nobody: Dovecot refuses to let root own mail

# Not root: Dovecot's internal processes must run as the current user, without chroot.
UNPRIVILEGED = """
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""

CONFIG = """
instance_name = {instance}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_fsync = never
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
default_client_limit = 2000
# One process per IMAP session: workers polling and IDLE-ing on many accounts need more than 100.
default_process_limit = 1000
shutdown_clients = yes
# Every IMAP session's traffic, so tests can check what a client did (and did not) download.
rawlog_dir = {base}/rawlog
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/mail/%d/%n
}}
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


# OAuth2 sign-in (XOAUTH2, OAUTHBEARER): Dovecot asks the provider's RFC 7662 introspection
# endpoint about each token (a form POST of token=...) and accepts it when "active" is true and
# "username" is the user the client named. Password logins still go to the passwd-file passdb.
OAUTH2 = """
auth_mechanisms = plain login xoauth2 oauthbearer
# No cache: a token revoked at the provider must be refused at the next login.
auth_cache_size = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {base}/oauth2.conf.ext
}}
"""

OAUTH2_ARGS = """
introspection_mode = post
introspection_url = {introspection_url}
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
"""

# TLS with a test certificate: implicit TLS on the imaps port, STARTTLS on the plain one (where
# plaintext logins stay allowed, as disable_plaintext_auth = no says).
TLS = """
ssl_cert = <{cert}
ssl_key = <{key}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """Start with ``start()``; ``add_user`` makes an account; ``stop``/``kill`` and ``start`` again
    keep the mail and UIDVALIDITY, as a restarted production server would.

    With ``oauth_introspection_url`` it also takes XOAUTH2 and OAUTHBEARER logins, checking each
    access token at that URL (see ``OAuthProvider``); any user name is then an account.

    With ``tls`` it serves that certificate: implicit TLS on ``ssl_port`` and STARTTLS on
    ``port``; without, no TLS at all (``ssl_port`` None)."""

    def __init__(
        self, oauth_introspection_url: str | None = None, *, tls: ServerCert | None = None
    ) -> None:
        # Unix socket paths are limited to ~108 characters: keep the base short.
        self.base = Path(tempfile.mkdtemp(prefix="dc", dir="/tmp"))
        self.base.chmod(0o755)
        (self.base / "mail").mkdir(mode=0o755)
        # One passwd file per user: Dovecot re-reads a changed file at most once a second, so a
        # user added to a shared file could be refused for up to a second.
        (self.base / "users").mkdir(mode=0o755)
        (self.base / "rawlog").mkdir(mode=0o777)
        (self.base / "rawlog").chmod(0o777)
        root = os.geteuid() == 0
        uid, gid = (NOBODY, NOBODY) if root else (os.getuid(), os.getgid())
        if root:
            os.chown(self.base / "mail", uid, gid)
        self.instance = f"slawatch-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.ssl_port = free_port() if tls else None
        self.host = "127.0.0.1"
        self.config = self.base / "dovecot.conf"
        config = CONFIG.format(
            instance=self.instance,
            base=self.base,
            port=self.port,
            uid=uid,
            gid=gid,
            ssl="yes" if tls else "no",
            imaps_port=self.ssl_port or 0,
        )
        if tls:
            config += TLS.format(cert=tls.cert_file, key=tls.key_file)
        if not root:
            import grp
            import pwd

            config += UNPRIVILEGED.format(
                user=pwd.getpwuid(uid).pw_name, group=grp.getgrgid(gid).gr_name
            )
        if oauth_introspection_url:
            config += OAUTH2.format(base=self.base)
            args = self.base / "oauth2.conf.ext"
            args.write_text(OAUTH2_ARGS.format(introspection_url=oauth_introspection_url))
            args.chmod(0o644)
        self.config.write_text(config)

    def add_user(self, username: str, password: str) -> None:
        path = self.base / "users" / username
        path.write_text(f"{username}:{{PLAIN}}{password}\n")
        path.chmod(0o644)

    def deliver(self, username: str, messages: Iterable[bytes]) -> None:
        """Drop messages straight into the user's INBOX (Maildir/new), as a local delivery agent
        does: far faster than APPEND for the big mailboxes of benchmarks."""
        local, _, domain = username.partition("@")
        maildir = self.base / "mail" / domain / local / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for i, raw in enumerate(messages):
            (maildir / "new" / f"{time.time_ns()}.{i}.bench").write_bytes(raw)
        if os.geteuid() == 0:
            for path in [self.base / "mail" / domain, maildir.parent, *maildir.parent.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)

    def traffic(self) -> bytes:
        """What the server sent to clients so far (the ``*.out`` rawlogs of every session)."""
        return b"".join(p.read_bytes() for p in sorted((self.base / "rawlog").glob("*.out")))

    @property
    def pid_file(self) -> Path:
        return self.base / "run" / "master.pid"

    def start(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        start_log = self.base / "start.log"
        for attempt in range(3):
            with start_log.open("ab") as log:
                # No pipes: the daemon would keep them open and the call would never return.
                started = subprocess.run(
                    [DOVECOT, "-c", str(self.config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    check=False,
                    timeout=30,
                )
            if started.returncode == 0:
                break
            # Right after a kill, the port or a socket may still be held for a moment.
            time.sleep(0.5 * (attempt + 1))
        else:
            problem = start_log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"dovecot exited with {started.returncode}: {problem}")
        deadline = time.monotonic() + 120  # a loaded machine can be that slow to start it
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start; see {self.base / 'dovecot.log'}")

    def _master_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _end_instance_processes(self, sig: int) -> None:
        # Child processes carry the instance name in their title; they can outlive the master.
        result = subprocess.run(
            ["pgrep", "-f", self.instance], capture_output=True, text=True, check=False
        )
        for pid in result.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), sig)

    def stop(self) -> None:
        pid = self._master_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._end_instance_processes(signal.SIGKILL)
        self._wait_port_closed()

    def kill(self) -> None:
        """Die as a crashed server does: SIGKILL, no clean shutdown."""
        self._end_instance_processes(signal.SIGKILL)
        pid = self._master_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._wait_port_closed()

    def _wait_port_closed(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                time.sleep(0.05)
            except OSError:
                return

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
