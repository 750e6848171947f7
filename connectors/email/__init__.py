"""Email: an IMAP mailbox in, SMTP replies out (entry point ``connectors.email:EmailConnector``)."""

from connectors.email.connector import EmailConnector
from connectors.email.settings import EmailSettings

__all__ = ["EmailConnector", "EmailSettings"]
