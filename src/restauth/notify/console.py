"""ConsoleNotifier: each one-time token printed as one line, for the demo and development.

**Never use it in production.** It is the only place in restauth that writes a token
anywhere on purpose: whoever reads the terminal or the log file it ends up in can reset
any account's password. Use :class:`restauth.notify.smtp.SMTPNotifier` (or a notifier of
your own) for real users.

The checks of link and text templates live here too; SMTPNotifier uses them.
"""

from __future__ import annotations

import sys
import threading
import unicodedata
from collections.abc import Mapping
from string import Formatter
from typing import TextIO
from urllib.parse import quote

from restauth.notify import PURPOSES, Purpose

__all__ = ["ConsoleNotifier", "check_link", "check_template"]

LINK_FIELDS = ("token", "userid")


class ConsoleNotifier:
    """Print ``restauth: <purpose> for '<userid>': <link or token>`` to ``stream``.

    **Development only. Never use it in production**: the token is a password-reset (or
    verification) secret, and this writes it where anyone reading the output sees it.

    ``links`` maps a purpose (``"password-reset"``, ``"verify"``) to a link template with a
    ``{token}`` placeholder (and optionally ``{userid}``), e.g.
    ``{"password-reset": "http://127.0.0.1:8000/#reset={token}"}``; both are
    percent-encoded into the link. A purpose without a template prints the bare token.
    ``stream`` ``None`` means ``sys.stderr`` as it is at the time of each notification.
    Lines from several threads never interleave.
    """

    def __init__(
        self, links: Mapping[Purpose, str] | None = None, stream: TextIO | None = None
    ) -> None:
        self._links: dict[str, str] = {}
        for purpose, template in (links or {}).items():
            if purpose not in PURPOSES:
                raise ValueError(
                    f"links: unknown purpose {purpose!r} (one of {', '.join(PURPOSES)})"
                )
            self._links[purpose] = check_link(f"links[{purpose!r}]", template)
        self._stream = stream
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ConsoleNotifier(links={self._links!r})"

    def __call__(self, userid: str, purpose: Purpose, token: str) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}")
        template = self._links.get(purpose)
        if template is None:
            shown = token
        else:
            shown = template.format(token=quote(token, safe=""), userid=quote(userid, safe=""))
        # repr(): a userid cannot hold control characters, but this is a terminal.
        line = f"restauth: {purpose} for {userid!r}: {shown}\n"
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            stream.write(line)
            stream.flush()


def check_link(name: str, template: object) -> str:
    """A link template: a string with ``{token}``, no other placeholder than ``{userid}``,
    no spaces or control characters. ``ValueError`` names ``name``."""
    checked = check_template(name, template, LINK_FIELDS, required=("token",), one_line=True)
    if any(c.isspace() for c in checked):
        raise ValueError(f"{name}: must not contain spaces")
    return checked


def check_template(
    name: str,
    template: object,
    fields: tuple[str, ...],
    *,
    required: tuple[str, ...] = (),
    one_line: bool = False,
) -> str:
    """A ``str.format`` template whose only placeholders are plain ``{field}`` of
    ``fields`` (no attribute, index, conversion or format spec), holding at least one of
    ``required``; ``one_line``: no control character or line break at all, else only
    ``\\n`` and tabs. ``ValueError`` names ``name``."""
    if not isinstance(template, str):
        raise ValueError(f"{name}: expected a string, got {type(template).__name__}")
    refused = ("Cc", "Cs", "Zl", "Zp")  # controls, lone surrogates, line/paragraph separators
    allowed = "" if one_line else "\n\t"
    if any(unicodedata.category(c) in refused and c not in allowed for c in template):
        kind = "line breaks or control characters" if one_line else "control characters"
        raise ValueError(f"{name}: must not contain {kind}")
    used = _placeholders(name, template, fields)
    if required and not used.intersection(required):
        wanted = " or ".join("{" + field + "}" for field in required)
        raise ValueError(f"{name}: must contain {wanted}")
    return template


def _placeholders(name: str, template: str, fields: tuple[str, ...]) -> set[str]:
    """The fields ``template`` uses; ``ValueError`` for anything but a plain ``{field}``."""
    try:
        parsed = [(field, spec, conv) for _, field, spec, conv in Formatter().parse(template)]
    except ValueError as error:
        raise ValueError(f"{name}: {error} (write a literal brace as {{{{ or }}}})") from None
    placeholders = ", ".join("{" + field + "}" for field in fields)
    used: set[str] = set()
    for field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in fields or spec or conversion:
            raise ValueError(f"{name}: unknown placeholder {{{field}}}; use {placeholders}")
        used.add(field)
    return used
