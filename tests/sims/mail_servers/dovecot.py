"""A throwaway dovecot: own config on a free loopback port, passwd-file users, maildirs.

Each test gets a fresh user (so a fresh mailbox) on a shared server; mail is delivered with
IMAP APPEND, as a mail client would file it.
"""

from __future__ import annotations

import contextlib
import ctypes
import imaplib
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.services import need_binary

DOVECOT = "/usr/sbin/dovecot"
USER_POOL = 500
_users = itertools.count(1)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel stops dovecot if the test process dies without cleanup."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    """A loopback port free right now (servers that cannot bind port 0 themselves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crlf(raw: bytes) -> bytes:
    """IMAP APPEND wants CRLF line ends; sample files are kept with plain LF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


@dataclass(frozen=True)
class MailUser:
    name: str
    password: str


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def make_tls(folder: Path) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1/localhost (the client trusts it as its CA)."""
    openssl = need_binary("openssl", "openssl (to make a test certificate)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True,
    )  # fmt: skip
    os.chmod(key, 0o644)  # dovecot reads it as root, but keep it readable for non-root runs
    return TlsFiles(cert, key)


class Dovecot:
    """A throwaway dovecot: start(), add_user(), append(), flags(), stop()."""

    def __init__(self, binary: str, tls: TlsFiles | None = None) -> None:
        self.binary = binary
        self.tls = tls
        self.root = Path(tempfile.mkdtemp(prefix="socialbot-dovecot-"))
        os.chmod(self.root, 0o755)  # the mail and auth processes run as another user
        self.host = "127.0.0.1"
        self.port = 0
        self.imaps_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        root = os.geteuid() == 0
        self.login_user = "dovenull" if root else pwd.getpwuid(os.getuid()).pw_name
        self.mail_user = "dovecot" if root else self.login_user
        self._users = [
            MailUser(f"user{n}", "secret-" + os.urandom(6).hex()) for n in range(1, USER_POOL + 1)
        ]

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        (self.root / "mail").mkdir()
        (self.root / "passwd").write_text(
            "".join(f"{u.name}:{{PLAIN}}{u.password}::::::\n" for u in self._users)
        )
        os.chmod(self.root / "passwd", 0o644)
        shutil.chown(self.root / "mail", self.mail_user, self.mail_user)
        for _ in range(3):  # the free port may be taken before dovecot binds it: try again
            self.port, self.imaps_port = free_port(), free_port()
            (self.root / "dovecot.conf").write_text(self._config())
            self._proc = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # a killed test run leaves no dovecot behind
            )  # fmt: skip
            if self._wait_ready():
                return
            self.stop_process()
        raise RuntimeError(f"dovecot did not start:\n{self.log()}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=1) as sock,
            ):
                if sock.recv(64).startswith(b"* OK"):
                    return True
            time.sleep(0.05)
        return False

    def stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"

    def _config(self) -> str:
        r = self.root
        tls = "ssl = no"
        if self.tls is not None:
            tls = f"ssl = yes\nssl_cert = <{self.tls.cert}\nssl_key = <{self.tls.key}"
        imaps = self.imaps_port if self.tls is not None else 0
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
instance_name = socialbot-test-{self.port}
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
{tls}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {self.login_user}
default_internal_user = {self.mail_user}
mail_uid = {self.mail_user}
mail_gid = {self.mail_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{r}/mail/%u
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/passwd
}}
userdb {{
  driver = static
  args = uid={self.mail_user} gid={self.mail_user} home={r}/mail/%u
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
"""

    # -- mailboxes ------------------------------------------------------------------------------

    def add_user(self) -> MailUser:
        """A fresh user, so a fresh, empty mailbox.

        Users are written before start: dovecot re-reads a changed passwd-file only when its
        mtime moves, so a user added in the same second would be refused.
        """
        number = next(_users)
        if number > len(self._users):
            raise RuntimeError(f"more than {len(self._users)} mail users in one test session")
        return self._users[number - 1]

    @contextlib.contextmanager
    def client(self, user: MailUser, mailbox: str = "INBOX") -> Iterator[imaplib.IMAP4]:
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            conn.login(user.name, user.password)
            typ, _ = conn.select(f'"{mailbox}"')
            if typ != "OK":
                raise LookupError(mailbox)
            yield conn
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                conn.logout()

    def append(self, user: MailUser, raw: bytes, mailbox: str = "INBOX", flags: str = "") -> int:
        """Deliver a message with IMAP APPEND; returns its UID."""
        with self.client(user) as conn:
            if mailbox != "INBOX":
                conn.create(f'"{mailbox}"')
            typ, data = conn.append(f'"{mailbox}"', flags or None, None, crlf(raw))
        assert typ == "OK", data
        found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        assert found, data
        return int(found.group(1))

    def flags(self, user: MailUser, uid: int, mailbox: str = "INBOX") -> set[str]:
        with self.client(user, mailbox) as conn:
            _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        found = re.search(rb"FLAGS \(([^)]*)\)", data[0] if isinstance(data[0], bytes) else b"")
        return set(found.group(1).decode().split()) if found else set()

    def messages(self, user: MailUser, mailbox: str) -> list[EmailMessage]:
        """Every message in a mailbox (an empty list when it does not exist)."""
        found: list[EmailMessage] = []
        with contextlib.suppress(LookupError), self.client(user, mailbox) as conn:
            _, data = conn.uid("SEARCH", "ALL")
            for uid in data[0].split():
                _, parts = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                raw = next(p[1] for p in parts if isinstance(p, tuple))
                msg = message_from_bytes(raw, policy=policy.default)
                assert isinstance(msg, EmailMessage)
                found.append(msg)
        return found

    def set_uidvalidity(self, user: MailUser, value: int, mailbox: str = "INBOX") -> None:
        """Change a mailbox's UIDVALIDITY, as a server migration or mailbox rebuild would."""
        doveadm = need_binary("doveadm", "doveadm (part of dovecot-core)")
        subprocess.run(
            [doveadm, "-c", str(self.root / "dovecot.conf"), "mailbox", "update",
             "--uid-validity", str(value), "-u", user.name, mailbox],
            check=True, capture_output=True,
        )  # fmt: skip


@pytest.fixture(name="dovecot", scope="session")
def dovecot_fixture() -> Iterator[Dovecot]:
    binary = need_binary(DOVECOT, "dovecot IMAP server (apt-get install dovecot-imapd)")
    server = Dovecot(binary)
    server.start()
    yield server
    server.stop()


@pytest.fixture(name="mail_user")
def mail_user_fixture(dovecot: Dovecot) -> MailUser:
    return dovecot.add_user()
