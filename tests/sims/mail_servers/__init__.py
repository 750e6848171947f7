"""Real mail servers for tests: Debian's dovecot (IMAP) and an aiosmtpd sink (SMTP).

dovecot runs with its own config on a free loopback port, passwd-file users and maildirs in a
temporary folder; each test gets a fresh user (so a fresh mailbox) on a shared server. Mail is
delivered with IMAP APPEND, as a mail client would file it. A threaded TCP proxy can cut or
stall connections to inject drops and timeouts. The SMTP sink records what the bot sent and
can answer the next commands with an injected status.
"""

from tests.sims.mail_servers.dovecot import (
    DOVECOT,
    Dovecot,
    MailUser,
    TlsFiles,
    crlf,
    dovecot_fixture,
    free_port,
    mail_user_fixture,
    make_tls,
)
from tests.sims.mail_servers.proxy import FlakyProxy
from tests.sims.mail_servers.smtp_sink import Received, SinkHandler, SmtpSink, smtp_sink_fixture
from tests.sims.mail_servers.wiring import (
    PASSWORD_ENV,
    USER_ENV,
    MemoryCursors,
    email_section,
    mail_env_fixture,
)

__all__ = [
    "DOVECOT",
    "PASSWORD_ENV",
    "USER_ENV",
    "Dovecot",
    "FlakyProxy",
    "MailUser",
    "MemoryCursors",
    "Received",
    "SinkHandler",
    "SmtpSink",
    "TlsFiles",
    "crlf",
    "dovecot_fixture",
    "email_section",
    "free_port",
    "mail_env_fixture",
    "mail_user_fixture",
    "make_tls",
    "smtp_sink_fixture",
]
