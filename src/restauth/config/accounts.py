"""The ``[accounts]`` and ``[password_policy]`` tables: what ``/users`` offers, how it
reaches users (``notifier = "smtp"`` with ``[accounts.smtp]``, or ``"console"`` for
development), and which new passwords are acceptable. See ``docs/configuration.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from restauth.accounts import REGISTRATION_MODES, Accounts
from restauth.config.schema import ConfigError, Table
from restauth.notify import PASSWORD_RESET, VERIFY, Notifier, Purpose
from restauth.passwords.policy import PasswordPolicy
from restauth.users.base import UserStore

NOTIFIERS = ("none", "smtp", "console")


@dataclass(frozen=True)
class AccountsSpec:
    """A checked ``[accounts]`` table; :meth:`build` makes the settings for a user store."""

    settings: dict[str, Any]
    notifier: str = "none"
    smtp: dict[str, Any] = field(default_factory=dict)
    links: dict[Purpose, str] = field(default_factory=dict)  # the console notifier's
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def build(self, users: UserStore) -> Accounts:
        return Accounts(notifier=self.build_notifier(users), **self.settings)

    def build_notifier(self, users: UserStore) -> Notifier | None:
        if self.notifier == "console":
            from restauth.notify.console import ConsoleNotifier

            return ConsoleNotifier(self.links)
        if self.notifier == "smtp":
            from restauth.notify.smtp import SMTPNotifier

            return SMTPNotifier.from_settings(
                self.smtp, self.env, users=users, where="[accounts.smtp]"
            )
        return None

    def describe(self) -> dict[str, Any]:
        smtp = {k: v for k, v in self.smtp.items() if k != "password"}
        return {**self.settings, "notifier": self.notifier, "smtp": smtp}


def read_accounts(table: Table | None, env: Mapping[str, str]) -> AccountsSpec | None:
    """The ``[accounts]`` table, checked by the rules :class:`Accounts` applies; ``None``
    when absent (accounts off)."""
    if table is None:
        return None
    settings: dict[str, Any] = {
        "registration": table.choice("registration", REGISTRATION_MODES, "off"),
        "path": table.string("path", "/users"),
        "default_roles": table.strings("default_roles"),
        "reset_ttl": table.number("reset_ttl", 900.0),
        "verify_ttl": table.number("verify_ttl", 900.0),
        "requests_per_address": table.integer("requests_per_address", 10, minimum=1),
        "window": table.number("window", 3600.0),
        "page_size": table.integer("page_size", 50, minimum=1),
        "max_page_size": table.integer("max_page_size", 500, minimum=1),
    }
    notifier = table.choice("notifier", NOTIFIERS, "none")
    smtp_table = table.table("smtp")
    console_table = table.table("console")
    if smtp_table is not None and notifier != "smtp":
        raise table.error("smtp", 'is read only with notifier = "smtp"')
    if console_table is not None and notifier != "console":
        raise table.error("console", 'is read only with notifier = "console"')
    if notifier == "smtp" and smtp_table is None:
        raise table.error("notifier", 'is "smtp": add an [accounts.smtp] table (host, sender)')
    smtp: dict[str, Any] = {}
    if smtp_table is not None:
        smtp = dict(smtp_table.data)
        smtp_table.data.clear()  # read whole: SMTPNotifier.from_settings names unknown keys
    links = _read_links(console_table)
    table.finish()
    spec = AccountsSpec(settings, notifier, smtp, links, env)
    _check(spec)
    return spec


def _read_links(table: Table | None) -> dict[Purpose, str]:
    if table is None:
        return {}
    links: dict[Purpose, str] = {}
    for key, purpose in (("reset_url", PASSWORD_RESET), ("verify_url", VERIFY)):
        value = table.string(key)
        if value is not None:
            links[purpose] = value
    table.finish()
    return links


def _check(spec: AccountsSpec) -> None:
    """Judge the table now, with a store that costs nothing (no connection, no mail)."""
    from restauth.users.memory import MemoryUserStore

    try:
        spec.build(MemoryUserStore())
    except (TypeError, ValueError) as error:
        message = str(error)
        raise ConfigError(
            message if message.startswith("[") else f"[accounts]: {message}"
        ) from None


def read_policy(table: Table | None) -> PasswordPolicy:
    """``[password_policy]``: ``min_length``, ``common``, ``min_score`` (defaults: 8, on, off)."""
    if table is None:
        return PasswordPolicy()
    defaults = PasswordPolicy()
    min_score = table.integer("min_score", -1, minimum=0) if "min_score" in table else None
    try:
        policy = PasswordPolicy(
            min_length=table.integer("min_length", defaults.min_length, minimum=1),
            common=table.boolean("common", defaults.common),
            min_score=min_score,
        )
    except ValueError as error:
        raise ConfigError(f"[password_policy]: {error}") from None
    table.finish()
    return policy
