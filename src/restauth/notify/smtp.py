"""SMTPNotifier: a one-time token sent by e-mail, with nothing but the standard library.

One message per notification, one connection per message (``smtplib``), built as an
:class:`email.message.EmailMessage` (which refuses a line break in any header, so a
userid or an address can never add one). TLS is on by default: STARTTLS is *required*
on the submission port (a server that does not offer it gets nothing, rather than the
token in clear), or implicit TLS (``ssl=True``, port 465); certificates are checked
with :func:`ssl.create_default_context` unless a context is given.

The recipient is a lookup, ``recipient(userid) -> address | None``:
:meth:`SMTPNotifier.for_store` reads ``User.email`` from a user store (else the userid
itself when it is an address). ``None`` sends nothing and logs a warning naming the
userid. A failure raises :class:`NotificationFailed`, whose message names the server,
the step and the server's answer, and never the token or the SMTP password.
"""

from __future__ import annotations

import contextlib
import logging
import math
import smtplib
import ssl as ssl_module
import unicodedata
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Self
from urllib.parse import quote

from restauth.errors import ConfigError, NotificationFailed
from restauth.notify import PASSWORD_RESET, PURPOSES, VERIFY, Purpose
from restauth.notify.console import check_link, check_template
from restauth.users.base import UserStore, check_email

__all__ = [
    "SETTINGS_KEYS",
    "NotificationFailed",
    "SMTPNotifier",
    "store_recipient",
    "userid_address",
]

logger = logging.getLogger(__name__)

Recipient = Callable[[str], str | None]

SUBMISSION_PORT = 587  # STARTTLS (RFC 6409)
SUBMISSIONS_PORT = 465  # implicit TLS (RFC 8314)
MAX_DETAIL = 300  # characters of a server's answer kept in an error message

# The keys of a configuration table, for SMTPNotifier.from_settings.
SETTINGS_KEYS = (
    "host",
    "port",
    "sender",
    "starttls",
    "ssl",
    "username",
    "password_env",
    "timeout",
    "reset_url",
    "verify_url",
    "subject_reset",
    "subject_verify",
)

SUBJECT_FIELDS = ("userid",)
BODY_FIELDS = ("token", "link", "userid")

SUBJECTS: dict[str, str] = {
    PASSWORD_RESET: "Reset your password",
    VERIFY: "Confirm your e-mail address",
}
_RESET = (
    "Someone, hopefully you, asked to reset the password of the account {userid}.\n\n"
    "To choose a new password, {how}\n\n"
    "It works once. If you did not ask, ignore this message: your password stays as it is.\n"
)
_VERIFY = (
    "To confirm the e-mail address of the account {userid}, {how}\n\n"
    "It works once. If you did not create this account, ignore this message.\n"
)
_LINK = "open this link:\n\n{link}"
_CODE = "enter this code:\n\n{token}"
# (purpose, whether a link template is set) -> the default body
BODIES: dict[tuple[str, bool], str] = {
    (PASSWORD_RESET, True): _RESET.replace("{how}", _LINK),
    (PASSWORD_RESET, False): _RESET.replace("{how}", _CODE),
    (VERIFY, True): _VERIFY.replace("{how}", _LINK),
    (VERIFY, False): _VERIFY.replace("{how}", _CODE),
}


def userid_address(userid: str) -> str | None:
    """The userid itself when it looks like an address (it holds an ``@``), else ``None``."""
    return userid if "@" in userid else None


def store_recipient(users: UserStore) -> Recipient:
    """A recipient lookup reading ``users``: the user's ``email``, else the userid when it
    looks like an address; ``None`` for an unknown user or one with neither."""

    def recipient(userid: str) -> str | None:
        user = users.get(userid)
        if user is None:
            return None
        return user.email or userid_address(userid)

    return recipient


class SMTPNotifier:
    """Send each one-time token by e-mail through an SMTP server.

    - ``host``, ``port`` (default 587, or 465 with ``ssl``), ``sender`` (the ``From``:
      ``noreply@example.org`` or ``Example <noreply@example.org>``).
    - ``starttls`` (default ``True``): upgrade with STARTTLS and refuse to send if the
      server does not offer it. ``False`` sends in clear: only for a relay on the same
      machine or network you trust.
    - ``ssl``: implicit TLS from the first byte (port 465); ``starttls`` is then moot.
    - ``username`` and ``password``: AUTH (PLAIN or LOGIN, as the server offers), only
      ever over TLS. Both ASCII (smtplib sends nothing else). The password is in no
      ``repr`` and no error message.
    - ``timeout``: seconds for each network step (default 10).
    - ``ssl_context``: the TLS context (default :func:`ssl.create_default_context`:
      certificates and host names checked against the system's CAs).
    - ``reset_url``, ``verify_url``: link templates with ``{token}`` (and optionally
      ``{userid}``), both percent-encoded in, e.g. ``https://app.example/reset#token={token}``.
    - ``subject_reset``, ``subject_verify``: subjects, with an optional ``{userid}``
      (never the token: subjects are shown and logged everywhere).
    - ``body_reset``, ``body_verify``: plain-text bodies with ``{token}``, ``{link}``,
      ``{userid}``; at least one of ``{token}`` or ``{link}``. ``{link}`` is the link, or
      the bare token when the purpose has no link template.
    - ``recipient``: ``userid -> address | None``; see :meth:`for_store`.
    - ``local_hostname``: the name given in EHLO (default: :func:`socket.getfqdn`).

    Every argument is checked here: ``ValueError`` naming the argument.
    """

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        recipient: Recipient,
        port: int | None = None,
        starttls: bool = True,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl_module.SSLContext | None = None,
        reset_url: str | None = None,
        verify_url: str | None = None,
        subject_reset: str | None = None,
        subject_verify: str | None = None,
        body_reset: str | None = None,
        body_verify: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        # The arguments as given (the first statement: locals() holds only them), for
        # with_recipient.
        self._settings: dict[str, Any] = {
            key: value for key, value in locals().items() if key not in ("self", "__class__")
        }
        self.host = _check_host(host)
        self.ssl = _check_bool("ssl", ssl)
        self.starttls = _check_bool("starttls", starttls) and not self.ssl
        self.port = _check_port(port, SUBMISSIONS_PORT if self.ssl else SUBMISSION_PORT)
        self.sender, self._envelope_from = _check_sender(sender)
        self.username, self._password = _check_credentials(
            username, password, tls=self.ssl or self.starttls
        )
        self.timeout = _check_timeout(timeout)
        if ssl_context is not None and not isinstance(ssl_context, ssl_module.SSLContext):
            raise ValueError("ssl_context: expected an ssl.SSLContext")
        self._ssl_context = ssl_context
        if not callable(recipient):
            raise ValueError("recipient: expected a callable userid -> address or None")
        self._recipient = recipient
        if local_hostname is not None:
            _check_host(local_hostname, "local_hostname")
        self._local_hostname = local_hostname
        self._links: dict[str, str | None] = {
            PASSWORD_RESET: None if reset_url is None else check_link("reset_url", reset_url),
            VERIFY: None if verify_url is None else check_link("verify_url", verify_url),
        }
        self._subjects = {
            PASSWORD_RESET: _subject("subject_reset", subject_reset, PASSWORD_RESET),
            VERIFY: _subject("subject_verify", subject_verify, VERIFY),
        }
        self._bodies = {
            PASSWORD_RESET: self._body("body_reset", body_reset, PASSWORD_RESET),
            VERIFY: self._body("body_verify", body_verify, VERIFY),
        }

    def _body(self, name: str, template: str | None, purpose: Purpose) -> str:
        if template is None:
            return BODIES[purpose, self._links[purpose] is not None]
        return check_template(name, template, BODY_FIELDS, required=("token", "link"))

    @classmethod
    def for_store(cls, users: UserStore, **settings: Any) -> Self:
        """A notifier writing to each user's ``User.email`` in ``users`` (else to the
        userid, when it is an address); ``settings`` are the other keyword arguments."""
        return cls(recipient=store_recipient(users), **settings)

    def with_recipient(self, recipient: Recipient) -> Self:
        """The same notifier, writing to whom ``recipient`` says (e.g.
        ``notifier.with_recipient(store_recipient(users))``)."""
        return type(self)(**{**self._settings, "recipient": recipient})

    @classmethod
    def from_settings(
        cls,
        table: Mapping[str, object],
        env: Mapping[str, str],
        *,
        users: UserStore | None = None,
        recipient: Recipient | None = None,
        where: str = "[smtp]",
    ) -> Self:
        """A notifier from a configuration table (keys: :data:`SETTINGS_KEYS`).

        The password is read from the environment variable ``password_env`` names; a
        ``password`` key is refused. Recipients: ``users`` (see :meth:`for_store`), or
        ``recipient``, or neither (the userid, when it is an address). Every mistake is
        a :class:`restauth.ConfigError` (a ``ValueError``) whose message starts with
        ``where`` and the key.
        """
        if users is not None and recipient is not None:
            raise TypeError("give users or recipient, not both")
        settings = _read_settings(table, env, where)
        if users is not None:
            recipient = store_recipient(users)
        try:
            return cls(recipient=recipient or userid_address, **settings)
        except ValueError as error:
            raise ConfigError(f"{where} {error}") from None

    def __repr__(self) -> str:
        mode = "ssl" if self.ssl else "starttls" if self.starttls else "plain"
        auth = f", username={self.username!r}, password='***'" if self.username else ""
        return (
            f"SMTPNotifier(host={self.host!r}, port={self.port}, {mode}, "
            f"sender={self.sender!r}{auth})"
        )

    def __call__(self, userid: str, purpose: Purpose, token: str) -> None:
        """Send ``token`` for ``purpose`` to the address of ``userid``.

        No address: nothing is sent and a warning is logged. Raises
        :class:`NotificationFailed` when the message cannot be built for this address
        (a line break in a header) or the server cannot take it.
        """
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}")
        address = self._recipient(userid)
        if address is None:
            logger.warning(
                "no e-mail address for user %r: the %s message was not sent", userid, purpose
            )
            return
        message = self._message(userid, purpose, token, address)
        self._send(message, address, userid, purpose, token)

    def _message(self, userid: str, purpose: Purpose, token: str, address: str) -> EmailMessage:
        try:
            check_email(address)
        except (TypeError, ValueError):
            raise NotificationFailed(
                f"the {purpose} message for user {userid!r} was not sent: "
                "the recipient is not a usable e-mail address"
            ) from None
        link_template = self._links[purpose]
        link = (
            token
            if link_template is None
            else link_template.format(token=quote(token, safe=""), userid=quote(userid, safe=""))
        )
        body = self._bodies[purpose].format(token=token, link=link, userid=userid)
        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = address
            message["Subject"] = self._subjects[purpose].format(userid=userid)
            message["Date"] = formatdate(localtime=True)
            message["Message-ID"] = make_msgid(domain=self._envelope_from.rpartition("@")[2])
            message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
            # Quoted-printable keeps a non-ASCII body 7-bit, for servers without 8BITMIME.
            cte = None if body.isascii() else "quoted-printable"
            message.set_content(body, charset="utf-8", cte=cte)
        except ValueError:  # a CR or LF in a header: EmailMessage refuses it
            raise NotificationFailed(
                f"the {purpose} message for user {userid!r} was not sent: "
                "a header would hold a line break"
            ) from None
        return message

    def _context(self) -> ssl_module.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl_module.create_default_context()
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
        )

    def _send(
        self, message: EmailMessage, address: str, userid: str, purpose: Purpose, token: str
    ) -> None:
        step = "connect"
        try:
            smtp = self._connect()
            try:
                step = "EHLO"
                smtp.ehlo()
                if self.starttls:
                    step = "STARTTLS"
                    if not smtp.has_extn("starttls"):
                        raise NotificationFailed(
                            f"the {purpose} message for user {userid!r} was not sent: "
                            f"{self.host}:{self.port} does not offer STARTTLS, and the "
                            "token is not sent in clear"
                        )
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if self.username is not None and self._password is not None:
                    step = "AUTH"
                    smtp.login(self.username, self._password)
                step = "send"
                smtp.send_message(message, from_addr=self._envelope_from, to_addrs=[address])
                step = "QUIT"
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()  # the message is sent: a failing QUIT is no failure
            finally:
                smtp.close()
        except (smtplib.SMTPException, OSError, UnicodeError) as error:
            detail = self._redact(_describe(error, with_answer=step != "AUTH"), token)
            raise NotificationFailed(
                f"the {purpose} message for user {userid!r} was not sent: "
                f"{self.host}:{self.port} failed at {step}: {detail}"
            ) from None

    def _redact(self, text: str, token: str) -> str:
        """Belt and braces: a server's answer is not ours, so no secret survives in it."""
        for secret in (token, self._password):
            if secret:
                text = text.replace(secret, "***")
        return text


def _describe(error: BaseException, *, with_answer: bool) -> str:
    """The error's class and what the server answered (code, and its text unless
    ``with_answer`` is false), printable and cut short."""
    name = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        code, text = answers[0] if answers else (0, b"")
        return _printable(f"{name}: {code} {_text(text)}" if with_answer else f"{name}: {code}")
    if isinstance(error, smtplib.SMTPResponseException):
        answer = f"{error.smtp_code} {_text(error.smtp_error)}" if with_answer else ""
        return _printable(f"{name}: {answer or error.smtp_code}")
    if isinstance(error, UnicodeError):
        return f"{name} (smtplib sends ASCII only here)"
    if isinstance(error, OSError) and error.strerror:
        return _printable(f"{name}: {error.strerror}")
    return _printable(f"{name}: {error}" if str(error) else name)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _printable(text: str) -> str:
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


# Checks of the constructor's arguments: ValueError naming the argument.


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false")
    return value


def _check_host(host: object, name: str = "host") -> str:
    if not isinstance(host, str) or not host:
        raise ValueError(f"{name}: expected a host name or address")
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in host):
        raise ValueError(f"{name}: must not contain spaces or control characters")
    return host


def _check_port(port: object, default: int) -> int:
    if port is None:
        return default
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("port: expected an integer from 1 to 65535")
    return port


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError("timeout: expected a number of seconds")
    if not 0 < timeout < math.inf:
        raise ValueError("timeout: must be a positive, finite number of seconds")
    return float(timeout)


def _check_sender(sender: object) -> tuple[str, str]:
    """The From header as given, and the bare address (the envelope sender)."""
    if not isinstance(sender, str) or not sender:
        raise ValueError("sender: expected an address, like noreply@example.org")
    if any(unicodedata.category(c)[0] == "C" for c in sender):
        raise ValueError("sender: must not contain control characters")
    address = parseaddr(sender)[1]
    try:
        check_email(address)
    except ValueError:
        raise ValueError(
            "sender: expected an address, like noreply@example.org or Example <noreply@example.org>"
        ) from None
    return sender, address


def _check_credentials(
    username: object, password: object, *, tls: bool
) -> tuple[str | None, str | None]:
    if username is None and password is None:
        return None, None
    if username is None:
        raise ValueError("username: is required with a password")
    if password is None:
        raise ValueError("password: is required with a username")
    if not isinstance(username, str) or not username:
        raise ValueError("username: expected a string")
    if not username.isascii() or not username.isprintable():
        raise ValueError("username: must be printable ASCII (smtplib sends nothing else)")
    if not isinstance(password, str) or not password:
        raise ValueError("password: expected a non-empty string")
    if not password.isascii():  # the message names the rule, never the password
        raise ValueError("password: must be ASCII (smtplib sends nothing else)")
    if not tls:
        raise ValueError("username: AUTH is only sent over TLS; set starttls = true or ssl = true")
    return username, password


def _subject(name: str, template: str | None, purpose: Purpose) -> str:
    if template is None:
        return SUBJECTS[purpose]
    return check_template(name, template, SUBJECT_FIELDS, one_line=True)


# Reading a configuration table (from_settings): ConfigError naming the key.

_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "host": ((str,), "a string"),
    "port": ((int,), "an integer"),
    "sender": ((str,), "a string"),
    "starttls": ((bool,), "true or false"),
    "ssl": ((bool,), "true or false"),
    "username": ((str,), "a string"),
    "password_env": ((str,), "the name of an environment variable"),
    "timeout": ((int, float), "a number of seconds"),
    "reset_url": ((str,), "a string"),
    "verify_url": ((str,), "a string"),
    "subject_reset": ((str,), "a string"),
    "subject_verify": ((str,), "a string"),
}


def _read_settings(
    table: Mapping[str, object], env: Mapping[str, str], where: str
) -> dict[str, Any]:
    """The constructor's keyword arguments from ``table``, the password from ``env``."""
    settings = _typed(table, where)
    for key in ("host", "sender"):
        if not settings.get(key):
            raise ConfigError(f"{where} {key}: is required")
    if settings.get("ssl") and settings.get("starttls"):
        raise ConfigError(
            f"{where} ssl: ssl = true is TLS from the first byte (port 465); "
            "starttls = true is the upgrade on port 587: choose one"
        )
    password_env = settings.pop("password_env", None)
    if password_env is not None:
        settings["password"] = _password(password_env, env, where)
    if ("username" in settings) != ("password" in settings):
        missing = "password_env" if "username" in settings else "username"
        raise ConfigError(f"{where} {missing}: username and password_env go together")
    return settings


def _typed(table: Mapping[str, object], where: str) -> dict[str, Any]:
    """The keys ``table`` gives, each of its type; unknown keys (and ``password``) refused."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    if "password" in table:
        raise ConfigError(
            f"{where} password: a password does not belong in a file; put it in an "
            "environment variable and name that variable in password_env"
        )
    unknown = sorted(str(key) for key in table if key not in _KINDS)
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(f"{where}: unknown key{plural} {', '.join(unknown)}")
    settings: dict[str, Any] = {}
    for key, (kinds, expected) in _KINDS.items():
        value = table.get(key)
        if value is None:
            continue
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise ConfigError(f"{where} {key}: expected {expected}")
        settings[key] = value
    return settings


def _password(name: str, env: Mapping[str, str], where: str) -> str:
    if not name:
        raise ConfigError(f"{where} password_env: expected the name of an environment variable")
    password = env.get(name)
    if not password:
        raise ConfigError(f"{where} password_env: ${name} is not set")
    if not password.isascii():  # names the variable, never its value
        raise ConfigError(f"{where} password_env: ${name} must be ASCII (smtplib sends only that)")
    return password
