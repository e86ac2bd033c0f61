"""Bring existing users: import userids, password hashes and roles from a CSV or JSON file.

Each row's hash is stored as it is (``add_hashed``): nobody's password is needed, and
the first successful login replaces a hash weaker than restauth's own (a Django
``pbkdf2_sha256``, plain bcrypt, a lower cost) through the authenticator's rehash.
Accepted hashes are those :func:`~restauth.passwords.hasher.looks_like_hash` knows:
bcrypt (``$2a$``, ``$2b$``, ``$2y$``), Argon2 (``$argon2id$``, ``$argon2i$``,
``$argon2d$``), restauth's own, and Django's ``pbkdf2_sha256``.

CSV (UTF-8, an optional BOM): a header row naming the columns, in any order:
``userid`` and ``hash`` (required), ``roles`` and ``email`` (optional). Roles are
separated by spaces, ``;`` or ``,`` (a role name can hold none of them; a ``,`` needs the
field quoted); an empty ``email`` is none. An Argon2 hash holds commas
(``m=65536,t=3,p=4``): quote it, as a spreadsheet or :mod:`csv` writer does. Blank
lines are skipped. A row number is the
line the row starts on, the header being line 1.

JSON: a list of objects ``{"userid": str, "hash": str, "roles": [str, ...],
"email": str | null}``; ``roles`` and ``email`` may be left out. A row number is the
object's position in the list, from 1.

Every row is checked as enrolment checks it (userid, roles, email) and its hash as above,
and refused whole, with its row number and a reason that never contains the hash, when
something is wrong; so is a userid the store (or an earlier row) already has: nothing
is overwritten, so running an import again after a failure is safe. A hash that would
make a login cost more than a few seconds is refused too: bcrypt above cost
:data:`MAX_BCRYPT_COST`, Argon2 above :data:`MAX_ARGON2_MEMORY` KiB,
:data:`MAX_ARGON2_WORK` KiB * passes or :data:`MAX_ARGON2_LANES` lanes, PBKDF2 above
:data:`~restauth.passwords.hasher.MAX_PBKDF2_ITERATIONS` iterations. A file that cannot
be read as a whole (not UTF-8, malformed CSV or JSON, no header, not a list) imports
nothing: :attr:`ImportReport.problem` says why.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from restauth.errors import UserExists
from restauth.passwords.hasher import (
    DJANGO_PBKDF2_PREFIX,
    MAX_PBKDF2_ITERATIONS,
    looks_like_hash,
)
from restauth.users.base import AccountStore, User, check_email, check_roles, check_userid

FORMATS = ("csv", "json")
CSV_COLUMNS = ("userid", "hash", "roles", "email")
MAX_BCRYPT_COST = 16  # each step doubles the work: 16 is about 4 s, 20 about a minute
MAX_ARGON2_MEMORY = 2 * 1024 * 1024  # KiB: RFC 9106's first recommendation, 2 GiB
MAX_ARGON2_WORK = MAX_ARGON2_MEMORY  # KiB * passes (argon2-cffi's default: 64 MiB * 3)
MAX_ARGON2_LANES = 64
_FIELDS = frozenset(CSV_COLUMNS)
_ROLE_SEPARATORS = re.compile(r"[\s;,]+")
_BCRYPT_COST = re.compile(r"\$2[aby]\$([0-9]{2})\$")
_ARGON2_PARAMETERS = re.compile(r"\$m=([0-9]+),t=([0-9]+),p=([0-9]+)\$")
_SUPPORTED = "bcrypt, Argon2, restauth's own, Django pbkdf2_sha256"


@runtime_checkable
class ImportsHashes(Protocol):
    """A user store users can be imported into: a lookup and enrolment from a hash.

    :class:`~restauth.users.memory.MemoryUserStore` and the SQL stores have both. A
    store whose ``add_hashed`` takes no ``email`` can still import rows without one.
    """

    def get(self, userid: str) -> User | None: ...

    def add_hashed(
        self,
        userid: str,
        password_hash: str,
        roles: Iterable[str] = (),
        *,
        email: str | None = None,
    ) -> User: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """A row that was not imported: where, and why (never its hash)."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: the userids imported (in a dry run: that would be), the rows
    refused, and ``problem`` when the file could not be read at all (nothing imported)."""

    imported: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()
    dry_run: bool = False
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every row went in (or would, in a dry run)."""
        return self.problem is None and not self.refused

    def summary(self) -> str:
        counts = f"imported {len(self.imported)}, refused {len(self.refused)}"
        if self.dry_run:
            return f"dry run, nothing written: would have {counts}"
        return counts

    def lines(self) -> list[str]:
        """The summary, then one line per refused row."""
        return [self.summary(), *(str(refusal) for refusal in self.refused)]


@dataclass(frozen=True, slots=True)
class _Entry:
    userid: str
    password_hash: str
    roles: frozenset[str]
    email: str | None


# -- the entry points -------------------------------------------------------------------


def import_users(
    store: ImportsHashes,
    path: str | Path,
    *,
    format: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import the users in the CSV or JSON file at ``path`` into ``store``.

    ``format`` (``"csv"`` or ``"json"``) defaults to the file's extension. With
    ``dry_run`` every row is checked, the store is asked which userids it has, and
    nothing is written.
    """
    path = Path(path)
    if format is None:
        format = path.suffix.lower().lstrip(".")
        if format not in FORMATS:
            return ImportReport(
                dry_run=dry_run,
                problem="cannot tell csv from json by the file name: give the format",
            )
    _check_format(format)
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        return ImportReport(dry_run=dry_run, problem=f"not UTF-8 text (byte {error.start})")
    except OSError as error:
        return ImportReport(dry_run=dry_run, problem=f"cannot read it: {error.strerror}")
    return import_text(store, text, format, dry_run=dry_run)


def import_text(
    store: ImportsHashes,
    text: str,
    format: str,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Like :func:`import_users`, for a file's text already read."""
    _check_format(format)
    try:
        rows = _csv_rows(text) if format == "csv" else _json_rows(text)
    except ValueError as error:  # the file as a whole: nothing is imported
        return ImportReport(dry_run=dry_run, problem=str(error))
    entries, refused = _validate(rows)
    imported, not_written = _write(store, entries, dry_run)
    refused = sorted([*refused, *not_written], key=lambda refusal: refusal.row)
    return ImportReport(tuple(imported), tuple(refused), dry_run)


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")


# -- reading ----------------------------------------------------------------------------

# A row: its number, and its fields or the reason it cannot be read.
_Row = tuple[int, Mapping[str, object] | str]


def _csv_rows(text: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[_Row] = []
    header: list[str] | None = None
    last_line = 0
    try:
        for record in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line, or only separators
            if header is None:
                header = _csv_header(record)
            elif len(record) != len(header):
                rows.append((line, _field_count(record, header)))
            else:
                rows.append((line, _csv_fields(header, record)))
    except csv.Error as error:
        raise ValueError(f"line {reader.line_num}: not valid CSV ({error})") from None
    if header is None:
        raise ValueError("empty file: expected a header row like userid,hash,roles,email")
    return rows


def _csv_header(record: list[str]) -> list[str]:
    names = [name.strip().lower() for name in record]
    unknown = [name for name in names if name not in _FIELDS]
    if unknown:
        raise ValueError(
            f"unknown column {unknown[0][:40]!r} in the header (columns: {', '.join(CSV_COLUMNS)})"
        )
    if len(set(names)) != len(names):
        raise ValueError("a column is named twice in the header")
    missing = [name for name in ("userid", "hash") if name not in names]
    if missing:
        raise ValueError(f"the header has no {missing[0]} column")
    return names


def _field_count(record: list[str], header: list[str]) -> str:
    reason = f"{len(record)} fields, the header has {len(header)}"
    if any(field.startswith("$argon2") for field in record):
        reason += " (an Argon2 hash holds commas: quote it)"
    return reason


def _csv_fields(header: list[str], record: list[str]) -> dict[str, object]:
    fields: dict[str, object] = dict(zip(header, record, strict=True))
    roles = fields.get("roles")
    if isinstance(roles, str):
        fields["roles"] = [role for role in _ROLE_SEPARATORS.split(roles) if role]
    if fields.get("email") == "":
        fields["email"] = None
    return fields


def _json_rows(text: str) -> list[_Row]:
    if not text.strip():
        raise ValueError("empty file: expected a JSON list of users")
    try:
        document = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None
    except ValueError as error:  # json.JSONDecodeError, or a repeated key
        raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(document, list):
        raise ValueError(f"expected a JSON list of users, not {_json_type(document)}")
    return [
        (number, item if isinstance(item, dict) else f"not an object but {_json_type(item)}")
        for number, item in enumerate(document, start=1)
    ]


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object naming a field twice is ambiguous (``json`` would keep the last one)."""
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise ValueError("an object names a field twice")
    return fields


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# -- checking ---------------------------------------------------------------------------


def _validate(rows: list[_Row]) -> tuple[list[tuple[int, _Entry]], list[Refusal]]:
    """Every row as an entry to write, or refused; a userid seen on an earlier row too."""
    entries: list[tuple[int, _Entry]] = []
    refused: list[Refusal] = []
    seen: dict[str, int] = {}
    for number, fields in rows:
        try:
            if isinstance(fields, str):
                raise ValueError(fields)
            entry = _entry(fields)
        except (ValueError, TypeError) as error:
            refused.append(Refusal(number, str(error)))
            continue
        if entry.userid in seen:
            refused.append(
                Refusal(number, f"userid {entry.userid!r} is also on row {seen[entry.userid]}")
            )
            continue
        seen[entry.userid] = number
        entries.append((number, entry))
    return entries, refused


def _entry(fields: Mapping[str, object]) -> _Entry:
    """The row as it will be stored; a ``ValueError`` or ``TypeError`` says why not."""
    unknown = sorted(str(name) for name in fields if name not in _FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0][:40]!r}")
    userid, password_hash = fields.get("userid"), fields.get("hash")
    if userid is None or password_hash is None:
        raise ValueError(f"no {'userid' if userid is None else 'hash'}")
    if not isinstance(userid, str):
        raise TypeError("userid must be a string")
    canonical = check_userid(userid)
    problem = hash_problem(password_hash)
    if problem is not None:
        raise ValueError(f"hash: {problem}")
    assert isinstance(password_hash, str)  # hash_problem said so
    return _Entry(canonical, password_hash, _roles(fields.get("roles")), _email(fields))


def _roles(roles: object) -> frozenset[str]:
    if roles is None:
        return frozenset()
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise TypeError("roles must be a list of strings")
    return check_roles(roles)


def _email(fields: Mapping[str, object]) -> str | None:
    email = fields.get("email")
    if email is not None and not isinstance(email, str):
        raise TypeError("email must be a string or null")
    return check_email(email)


def hash_problem(text: object) -> str | None:
    """Why ``text`` cannot be imported as a password hash (never quoting it); ``None``
    when it can: a format restauth verifies, at a cost a login can afford."""
    if not isinstance(text, str):
        return "must be a string"
    if not text:
        return "empty"
    if text.startswith("!"):
        return "Django's mark of an unusable password: this user cannot log in with one"
    if text.startswith(DJANGO_PBKDF2_PREFIX) and _pbkdf2_iterations(text) > MAX_PBKDF2_ITERATIONS:
        return f"more than {MAX_PBKDF2_ITERATIONS:,} PBKDF2 iterations (too costly at login)"
    if not looks_like_hash(text):
        if "$" not in text:
            return "not a password hash (a password itself? only hashes can be imported)"
        return f"not a hash format restauth can verify ({_SUPPORTED})"
    return _cost_problem(text)


def _pbkdf2_iterations(text: str) -> int:
    iterations = text.split("$")[1]
    return int(iterations) if iterations.isdigit() else 0


def _cost_problem(text: str) -> str | None:
    bcrypt_cost = _BCRYPT_COST.search(text)
    if bcrypt_cost is not None and not 4 <= int(bcrypt_cost[1]) <= MAX_BCRYPT_COST:
        return f"bcrypt cost {bcrypt_cost[1]} is outside 04 to {MAX_BCRYPT_COST}"
    argon2 = _ARGON2_PARAMETERS.search(text)
    if argon2 is not None:
        memory, passes, lanes = (int(value) for value in argon2.groups())
        if memory > MAX_ARGON2_MEMORY or memory * passes > MAX_ARGON2_WORK:
            return f"Argon2 m={memory},t={passes} is too costly at login"
        if lanes > MAX_ARGON2_LANES:
            return f"Argon2 p={lanes} is more than {MAX_ARGON2_LANES} lanes"
    return None


# -- writing ----------------------------------------------------------------------------


def _write(
    store: ImportsHashes, entries: list[tuple[int, _Entry]], dry_run: bool
) -> tuple[list[str], list[Refusal]]:
    imported: list[str] = []
    refused: list[Refusal] = []
    takes_email = isinstance(store, AccountStore)  # a store that keeps accounts keeps emails
    for number, entry in entries:
        if entry.email is not None and not takes_email:
            refused.append(Refusal(number, "email: this user store keeps no email addresses"))
        elif dry_run and store.get(entry.userid) is not None:
            refused.append(Refusal(number, f"user {entry.userid!r} already exists"))
        elif dry_run:
            imported.append(entry.userid)
        else:
            reason = _add(store, entry)
            if reason is None:
                imported.append(entry.userid)
            else:
                refused.append(Refusal(number, reason))
    return imported, refused


def _add(store: ImportsHashes, entry: _Entry) -> str | None:
    """Write one entry; why not, when the store refuses it."""
    try:
        if entry.email is None:
            store.add_hashed(entry.userid, entry.password_hash, entry.roles)
        else:
            store.add_hashed(entry.userid, entry.password_hash, entry.roles, email=entry.email)
    except UserExists:
        return f"user {entry.userid!r} already exists"
    except ValueError as error:  # a store stricter than these checks; never quote the hash
        return str(error).replace(entry.password_hash, "<hash>")
    return None
