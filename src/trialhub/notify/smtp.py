"""Sends emails through an SMTP server (STARTTLS or TLS, optional credentials)."""

from __future__ import annotations

import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formatdate

from trialhub.services.kernel.ports import DeliveryError, Email


def build_message(email: Email, sender: str) -> EmailMessage:
    """multipart/alternative: plain text first, HTML second; a stable Message-ID (rule E2)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = email.message_id
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    """Keeps one connection open across a delivery pass: each message is marked sent as soon
    as the server accepted its DATA, and QUIT waits for `close()` at the end of the pass, so
    no round trip sits between acceptance and the sent mark (rule E2)."""

    # some servers refuse more messages per connection (Exchange Online: 30)
    MAX_PER_CONNECTION = 20

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        starttls: bool = False,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.username = username
        self.password = password
        self.timeout = timeout
        self._client: smtplib.SMTP | None = None
        self._sent_on_client = 0
        self._lock = threading.Lock()  # the worker and a request may deliver at once

    def send(self, email: Email) -> None:
        message = build_message(email, self.sender)
        with self._lock:
            try:
                client = self._connection()
                client.send_message(message)
                self._sent_on_client += 1
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                raise DeliveryError(f"SMTP {self.host}:{self.port}: {error}") from error

    def close(self) -> None:
        """QUIT, once the pass has recorded what it sent."""
        with self._lock:
            self._quit_quietly()

    def _connection(self) -> smtplib.SMTP:
        if self._client is not None and self._sent_on_client >= self.MAX_PER_CONNECTION:
            self._quit_quietly()
        if self._client is not None:
            try:  # a server drops idle connections: check before handing a message over
                if self._client.noop()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        client = self._connect()
        self._client, self._sent_on_client = client, 0
        return client

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls and not self.use_ssl:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _quit_quietly(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
