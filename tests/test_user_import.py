"""Bringing existing users: Django ``pbkdf2_sha256`` hashes verified and upgraded, the CSV
and JSON importer (every hostile row refused, never quoting a hash), ``restauth user
import`` against a SQLite store."""

from __future__ import annotations

import base64
import csv
import hashlib
import inspect
import io
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import argon2
import bcrypt
import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth._storage import Closeable
from restauth.cli import main
from restauth.config.loader import load_config
from restauth.errors import UserExists
from restauth.passwords.hasher import (
    MAX_PBKDF2_ITERATIONS,
    V1_PREFIX,
    V2_PREFIX,
    Check,
    looks_like_hash,
)
from restauth.users.base import User
from restauth.users.importing import (
    ImportReport,
    ImportsHashes,
    hash_problem,
    import_text,
    import_users,
)

from .conftest import basic, echo_app

PASSWORD = "correct horse caf\u00e9"  # NFC, non-ASCII, with spaces
KEY = "k" * 32


# -- hashes as other systems make them ----------------------------------------------------


def django_pbkdf2(
    password: str, salt: str = "R4nd0mSaltR4nd0mSalt22", iterations: int = 1000
) -> str:
    """Django's PBKDF2PasswordHasher.encode, step by step."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii').strip()}"


def plain_bcrypt(password: str, prefix: bytes = b"2b") -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, prefix=prefix)).decode()


def v1_hash(password: str) -> str:
    prehash = base64.b64encode(hashlib.sha256(password.encode()).digest())
    return V1_PREFIX + bcrypt.hashpw(prehash, bcrypt.gensalt(4)).decode()


def argon2_hash(password: str, kind: argon2.Type = argon2.Type.ID) -> str:
    return argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=kind).hash(
        password
    )


# Every format restauth verifies, and whether the first login replaces it (rounds=4).
HASHES: dict[str, tuple[Callable[[str], str], bool]] = {
    "bcrypt $2b$": (plain_bcrypt, True),
    "bcrypt $2a$": (lambda pw: plain_bcrypt(pw, b"2a"), True),
    "bcrypt $2y$": (lambda pw: "$2y$" + plain_bcrypt(pw)[4:], True),  # PHP's name for $2b$
    "restauth v1": (v1_hash, True),
    "restauth v2": (lambda pw: PasswordHasher(rounds=4).hash(pw), False),
    "argon2id": (argon2_hash, True),
    "argon2i": (lambda pw: argon2_hash(pw, argon2.Type.I), True),
    "argon2d": (lambda pw: argon2_hash(pw, argon2.Type.D), True),
    "django pbkdf2_sha256": (django_pbkdf2, True),
}


@pytest.fixture
def store() -> MemoryUserStore:
    return MemoryUserStore(hasher=PasswordHasher(rounds=4))


def client_for(users: MemoryUserStore) -> TestApp:
    middleware = AuthMiddleware(echo_app, users=users, tokens=MemoryTokenManager(), realm="t")
    return TestApp(middleware)


def csv_text(rows: Iterable[Iterable[str]], header: str = "userid,hash,roles") -> str:
    """As a spreadsheet or ``csv.writer`` writes it: a field with a comma (an Argon2
    hash's parameters) quoted."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return header + "\n" + out.getvalue()


# -- the hasher: Django pbkdf2_sha256 -------------------------------------------------------


def test_django_pbkdf2_verifies_and_always_needs_a_rehash() -> None:
    stored = django_pbkdf2(PASSWORD)
    assert looks_like_hash(stored)
    for hasher in (PasswordHasher(rounds=4), PasswordHasher(scheme="argon2id")):
        assert hasher.check(PASSWORD, stored) is Check.MATCH
        assert hasher.check(PASSWORD + "!", stored) is Check.MISMATCH
        assert hasher.check("correct horse cafe", stored) is Check.MISMATCH
        assert hasher.needs_rehash(stored)
    high = django_pbkdf2(PASSWORD, iterations=1_000_000)  # Django 5.2's default count
    assert PasswordHasher(rounds=4).verify(PASSWORD, high)


def test_the_hash_is_what_django_itself_makes() -> None:
    from django.conf import settings  # the test extra installs Django: no skip

    if not settings.configured:
        settings.configure()
    from django.contrib.auth.hashers import check_password, make_password

    made = make_password(PASSWORD, salt="abcdefghijklmnopqrstuv", hasher="pbkdf2_sha256")
    assert made == django_pbkdf2(PASSWORD, "abcdefghijklmnopqrstuv", int(made.split("$")[1]))
    assert PasswordHasher(rounds=4).verify(
        PASSWORD, make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    assert check_password(PASSWORD, django_pbkdf2(PASSWORD))  # and Django reads ours


def test_restauth_normalises_to_nfc_and_django_does_not() -> None:
    """A Django password set in decomposed form no longer matches (documented); one set in
    NFC matches whichever form is typed."""
    hasher = PasswordHasher(rounds=4)
    decomposed = "cafe\u0301"
    assert not hasher.verify(decomposed, django_pbkdf2(decomposed))
    assert hasher.verify(decomposed, django_pbkdf2("caf\u00e9"))


@pytest.mark.parametrize(
    "stored",
    [
        django_pbkdf2("pw").replace("$1000$", f"${MAX_PBKDF2_ITERATIONS + 1}$"),
        django_pbkdf2("pw").replace("$1000$", "$9999999999$"),
        django_pbkdf2("pw").replace("$1000$", "$0$"),
        django_pbkdf2("pw").replace("$1000$", "$01000$"),
        django_pbkdf2("pw").replace("$1000$", "$-1000$"),
        django_pbkdf2("pw")[:-2] + "=",  # a digest cut short
        django_pbkdf2("pw") + "AAAA",
        django_pbkdf2("pw", salt="s\u00e4lt"),  # a salt Django never makes
        django_pbkdf2("pw", salt=""),
        "pbkdf2_sha256$1000$salt",
        "pbkdf2_sha256$",
        "pbkdf2_sha1$1000$salt$" + "A" * 27 + "=",  # another Django hasher
    ],
)
def test_unreadable_or_too_costly_pbkdf2_is_corrupt_and_costs_one_dummy_check(
    stored: str, bcrypt_calls: list[bytes]
) -> None:
    hasher = PasswordHasher(rounds=4)
    hasher.verify("warm", None)
    dummy = bcrypt_calls.pop()
    assert not looks_like_hash(stored)
    assert hasher.check("pw", stored) is Check.CORRUPT
    assert bcrypt_calls == [dummy]  # as long as a wrong password, never 10**9 iterations


def test_the_iteration_bound_itself_is_accepted() -> None:
    at_bound = django_pbkdf2("pw").replace("$1000$", f"${MAX_PBKDF2_ITERATIONS}$")
    assert looks_like_hash(at_bound)  # readable (this digest is wrong: not verified here)


@pytest.mark.parametrize("password", ["", "x" * 2000, "lone\ud800"])
def test_unusable_passwords_against_pbkdf2_cost_one_dummy_check(
    password: str, bcrypt_calls: list[bytes]
) -> None:
    hasher = PasswordHasher(rounds=4)
    stored = django_pbkdf2("x" * 2000)  # even a hash of it: enrolment never takes it
    hasher.verify("warm", None)
    bcrypt_calls.clear()
    assert hasher.check(password, stored) is Check.MISMATCH
    assert len(bcrypt_calls) == 1


def test_the_formats_that_were_already_supported_still_are() -> None:
    hasher = PasswordHasher(rounds=4)
    for name, (make, _) in HASHES.items():
        stored = make(PASSWORD)
        assert looks_like_hash(stored), name
        assert hasher.check(PASSWORD, stored) is Check.MATCH, name
        assert hasher.check(PASSWORD[:-1], stored) is Check.MISMATCH, name


# -- imported, logged in, upgraded ---------------------------------------------------------


@pytest.mark.parametrize("name", list(HASHES))
def test_each_format_is_imported_then_upgraded_at_the_first_login(
    store: MemoryUserStore, name: str
) -> None:
    make, upgraded = HASHES[name]
    imported = make(PASSWORD)
    report = import_text(store, csv_text([["carol", imported, "user editor"]]), "csv")
    assert report == ImportReport(("carol",))
    user = store.get("carol")
    assert user is not None
    assert user.password_hash == imported
    stamp = user.stamp

    client = client_for(store)
    client.get("/", headers={"Authorization": basic("carol", PASSWORD + "x")}, status=401)
    answer = client.get("/", headers={"Authorization": basic("carol", PASSWORD)}, status=200)
    assert answer.json["userid"] == "carol"
    assert answer.json["roles"] == ["editor", "user"]

    user = store.get("carol")
    assert user is not None
    if upgraded:
        assert user.password_hash.startswith(V2_PREFIX)
        assert user.password_hash != imported
    else:
        assert user.password_hash == imported
    assert not store.hasher.needs_rehash(user.password_hash)  # restauth's own now
    assert user.stamp == stamp  # an upgrade ends no session
    fresh = client_for(store)  # no cached verdict: the new hash itself verifies
    fresh.get("/", headers={"Authorization": basic("carol", PASSWORD)}, status=200)
    fresh.get("/", headers={"Authorization": basic("carol", "wrong")}, status=401)


def test_json_import_with_roles_and_email(store: MemoryUserStore, tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    rows = [
        {"userid": "dave", "hash": django_pbkdf2(PASSWORD), "roles": ["admin", "user"]},
        {"userid": "erin", "hash": argon2_hash(PASSWORD), "email": "erin@example.org"},
        {"userid": "frank", "hash": plain_bcrypt(PASSWORD), "roles": [], "email": None},
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    report = import_users(store, path)
    assert report.ok
    assert report.imported == ("dave", "erin", "frank")
    assert report.lines() == ["imported 3, refused 0"]
    dave, erin = store.get("dave"), store.get("erin")
    assert dave is not None
    assert erin is not None
    assert dave.roles == {"admin", "user"}
    assert (erin.email, erin.roles) == ("erin@example.org", frozenset())
    client = client_for(store)
    for userid in ("dave", "erin", "frank"):
        client.get("/", headers={"Authorization": basic(userid, PASSWORD)}, status=200)


def test_csv_layout(store: MemoryUserStore, tmp_path: Path) -> None:
    """Columns in any order and any case, a BOM, blank lines, roles split on spaces, ';'
    and a quoted ','; an empty email is none; row numbers are line numbers."""
    hashed = plain_bcrypt(PASSWORD)
    text = (
        "\ufeff Email ,HASH,UserID,roles\r\n"
        f",{hashed},a1,admin;user\r\n"
        "\r\n"
        f'a2@example.org,{hashed},a2,"admin, user"\r\n'
        ",,,\r\n"
        f",{hashed},a3,  admin   user ; ops \r\n"
        f",{hashed},a:4,\r\n"
    )
    path = tmp_path / "users.CSV"
    path.write_text(text, encoding="utf-8")
    report = import_users(store, path)
    assert report.imported == ("a1", "a2", "a3")
    assert [str(refusal) for refusal in report.refused] == [
        "row 7: userid must not contain ':' (RFC 7617)"
    ]
    roles = {u: store.get(u).roles for u in report.imported}  # type: ignore[union-attr]
    assert roles == {
        "a1": {"admin", "user"},
        "a2": {"admin", "user"},
        "a3": {"admin", "user", "ops"},
    }
    assert store.get("a1").email is None  # type: ignore[union-attr]
    assert store.get("a2").email == "a2@example.org"  # type: ignore[union-attr]


def test_roles_and_email_columns_are_optional(store: MemoryUserStore) -> None:
    report = import_text(store, csv_text([["solo", plain_bcrypt("pw")]], "userid,hash"), "csv")
    assert report.ok
    assert store.get("solo").roles == frozenset()  # type: ignore[union-attr]


def test_userids_are_stored_in_nfc(store: MemoryUserStore) -> None:
    report = import_text(store, csv_text([["jose\u0301", plain_bcrypt("pw"), ""]]), "csv")
    assert report.imported == ("jos\u00e9",)
    assert store.get("jos\u00e9") is not None


def test_empty_lists_import_nothing_and_are_fine(store: MemoryUserStore) -> None:
    assert import_text(store, "[]", "json") == ImportReport()
    assert import_text(store, "userid,hash,roles\n", "csv") == ImportReport()
    assert list(store.userids()) == []


# -- hostile rows ---------------------------------------------------------------------------

GOOD = plain_bcrypt("pw")
TOO_COSTLY_BCRYPT = "$2b$31$" + GOOD[7:]
TOO_COSTLY_ARGON2 = argon2_hash("pw").replace("m=8192,t=1", "m=4194304,t=1")
TOO_MANY_PASSES = argon2_hash("pw").replace("m=8192,t=1", "m=65536,t=4000")
TOO_MANY_LANES = argon2_hash("pw").replace("p=1", "p=1000")
HUGE_PBKDF2 = django_pbkdf2("pw").replace("$1000$", "$99999999$")
SECRET_LOOKING = "hunter2-plaintext"

HOSTILE_ROWS: list[tuple[str, str, str]] = [
    # (userid, hash, a fragment of the reason)
    ("mal:lory", GOOD, "':'"),
    ("mal\x1b[31mlory", GOOD, "control"),
    ("mal\u202elory", GOOD, "control"),  # a bidi override
    (" mallory", GOOD, "space"),
    ("\u1d2e\u1d35\u1d33", GOOD, "NFKC"),
    ("m" * 300, GOOD, "at most 255"),
    ("mallory", SECRET_LOOKING, "a password itself"),
    ("mallory", "md5$salt$0123456789abcdef", "not a hash format"),
    ("mallory", "sha1$salt$0123456789abcdef", "not a hash format"),
    ("mallory", "$2b$04$short", "not a hash format"),
    ("mallory", "!unusableDjangoPasswordMarker0123456789ab", "unusable password"),
    ("mallory", HUGE_PBKDF2, "more than 10,000,000 PBKDF2 iterations"),
    ("mallory", TOO_COSTLY_BCRYPT, "bcrypt cost 31"),
    ("mallory", "$2b$03$" + GOOD[7:], "bcrypt cost 03"),
    ("mallory", V2_PREFIX + TOO_COSTLY_BCRYPT, "bcrypt cost 31"),
    ("mallory", TOO_COSTLY_ARGON2, "too costly"),
    ("mallory", TOO_MANY_PASSES, "too costly"),
    ("mallory", TOO_MANY_LANES, "lanes"),
]


@pytest.mark.parametrize(("userid", "hashed", "reason"), HOSTILE_ROWS)
@pytest.mark.parametrize("format_", ["csv", "json"])
def test_a_hostile_row_is_refused_with_its_row_and_never_its_hash(
    store: MemoryUserStore, userid: str, hashed: str, reason: str, format_: str
) -> None:
    rows = [["good1", GOOD, "user"], [userid, hashed, "user"], ["good2", GOOD, ""]]
    if format_ == "csv":
        text = "userid,hash,roles\n" + "".join(
            ",".join(f'"{field}"' for field in row) + "\n" for row in rows
        )
    else:
        text = json.dumps([{"userid": u, "hash": h, "roles": r.split()} for u, h, r in rows])
    report = import_text(store, text, format_)
    assert report.imported == ("good1", "good2")
    assert len(report.refused) == 1
    refusal = report.refused[0]
    assert refusal.row == 2 + (format_ == "csv")  # JSON counts objects, CSV lines
    assert reason in refusal.reason
    assert hashed not in refusal.reason
    assert hashed[-12:] not in refusal.reason
    assert store.get(userid) is None
    assert not report.ok


def test_hash_problem_names_no_hash() -> None:
    for _, hashed, _ in HOSTILE_ROWS:
        problem = hash_problem(hashed)
        assert problem is None or hashed[-12:] not in problem
    assert hash_problem(GOOD) is None
    assert hash_problem(django_pbkdf2("pw")) is None


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"userid": 5, "hash": GOOD}, "userid must be a string"),
        ({"userid": None, "hash": GOOD}, "no userid"),
        ({"hash": GOOD}, "no userid"),
        ({"userid": "x"}, "no hash"),
        ({"userid": "x", "hash": None}, "no hash"),
        ({"userid": "x", "hash": 5}, "hash: must be a string"),
        ({"userid": "x", "hash": ""}, "hash: empty"),
        ({"userid": "x", "hash": [GOOD]}, "hash: must be a string"),
        ({"userid": "x", "hash": GOOD, "roles": "admin"}, "roles must be a list of strings"),
        ({"userid": "x", "hash": GOOD, "roles": [1]}, "roles must be a list of strings"),
        ({"userid": "x", "hash": GOOD, "roles": [{"a": 1}]}, "roles must be a list"),
        ({"userid": "x", "hash": GOOD, "roles": ["two words"]}, "invalid role name"),
        ({"userid": "x", "hash": GOOD, "roles": [""]}, "invalid role name"),
        ({"userid": "x", "hash": GOOD, "email": 5}, "email must be a string"),
        ({"userid": "x", "hash": GOOD, "email": "not-an-address"}, "email must be"),
        ({"userid": "x", "hash": GOOD, "email": "a@b.org\r\nBcc: c@d.org"}, "email must be"),
        ({"userid": "x", "hash": GOOD, "password": "pw"}, "unknown field 'password'"),
        ({"userid": "x\ud800", "hash": GOOD}, "control"),
        (["x", GOOD], "not an object but a list"),
        ("x", "not an object but a string"),
        (None, "not an object but null"),
        (7, "not an object but a number"),
    ],
)
def test_json_rows_of_the_wrong_shape_are_refused(
    store: MemoryUserStore, item: object, reason: str
) -> None:
    text = json.dumps([item, {"userid": "ok", "hash": GOOD}])
    report = import_text(store, text, "json")
    assert report.imported == ("ok",)
    assert len(report.refused) == 1
    assert report.refused[0].row == 1
    assert reason in report.refused[0].reason
    assert GOOD not in report.refused[0].reason


def test_a_csv_row_with_the_wrong_number_of_fields_is_refused(store: MemoryUserStore) -> None:
    argon2id = argon2_hash("pw")
    text = csv_text([["a", GOOD], ["b", GOOD, "user", "extra"], ["c", GOOD, "user"]])
    text += f"d,{argon2id},user\n"  # unquoted: its commas split it
    report = import_text(store, text, "csv")
    assert report.imported == ("c",)
    assert [str(r) for r in report.refused] == [
        "row 2: 2 fields, the header has 3",
        "row 3: 4 fields, the header has 3",
        "row 5: 5 fields, the header has 3 (an Argon2 hash holds commas: quote it)",
    ]


def test_duplicates_in_the_file_and_in_the_store_are_refused(store: MemoryUserStore) -> None:
    store.add_hashed("taken", django_pbkdf2("theirs"))
    text = csv_text(
        [
            ["alice", GOOD, ""],
            ["taken", GOOD, ""],
            ["alice", django_pbkdf2("other"), ""],
            ["jose\u0301", GOOD, ""],
            ["jos\u00e9", GOOD, ""],  # the same userid once NFC
        ]
    )
    report = import_text(store, text, "csv")
    assert report.imported == ("alice", "jos\u00e9")
    assert [str(r) for r in report.refused] == [
        "row 3: user 'taken' already exists",
        "row 4: userid 'alice' is also on row 2",
        "row 6: userid 'jos\u00e9' is also on row 5",
    ]
    assert store.get("taken").password_hash == django_pbkdf2("theirs")  # type: ignore[union-attr]
    assert store.get("alice").password_hash == GOOD  # type: ignore[union-attr]


# -- whole files that cannot be read --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("u.csv", b"", "empty file"),
        ("u.csv", b"\n\n  \n", "empty file"),
        ("u.csv", b"userid,roles\nalice,user\n", "no hash column"),
        ("u.csv", b"userid,hash,password\n", "unknown column 'password'"),
        ("u.csv", b"userid,hash,hash\n", "named twice"),
        ("u.csv", b'userid,hash\nalice,"$2b$"x\n', "line 2: not valid CSV"),
        ("u.csv", b'userid,hash\nalice,"$2b$04\n', "not valid CSV"),
        ("u.csv", b"userid,hash\n" + "x".join(["a"] * 200_000).encode(), "not valid CSV"),
        ("u.csv", b"userid,hash\n\xffalice,x\n", "not UTF-8 text (byte 12)"),
        ("u.json", b"", "empty file"),
        ("u.json", b"  \n", "empty file"),
        ("u.json", b'[{"userid": "a",', "not valid JSON"),
        ("u.json", b'{"userid": "a", "hash": "x"}', "expected a JSON list of users, not an object"),
        ("u.json", b'"users"', "not a string"),
        ("u.json", b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        ("u.json", b'[{"userid": "a", "userid": "b", "hash": "x"}]', "names a field twice"),
        ("u.json", b"[NaN", "not valid JSON"),
        ("u.json", b"\xfe\xff[]", "not UTF-8"),
        ("u.txt", b"[]", "cannot tell csv from json"),
        ("u", b"[]", "cannot tell csv from json"),
    ],
)
def test_a_file_that_cannot_be_read_imports_nothing(
    store: MemoryUserStore, tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report = import_users(store, path)
    assert report.problem is not None
    assert problem in report.problem
    assert (report.imported, report.refused) == ((), ())
    assert not report.ok
    assert list(store.userids()) == []


def test_csv_with_a_good_row_before_a_malformed_one_imports_nothing(
    store: MemoryUserStore,
) -> None:
    text = f'userid,hash\nalice,{GOOD}\nbob,"{GOOD}"oops\n'
    report = import_text(store, text, "csv")
    assert report.problem is not None
    assert "line 3" in report.problem
    assert store.get("alice") is None


def test_a_missing_file(store: MemoryUserStore, tmp_path: Path) -> None:
    report = import_users(store, tmp_path / "absent.json")
    assert report.problem == "cannot read it: No such file or directory"


def test_the_format_argument_wins_over_the_name(store: MemoryUserStore, tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text(json.dumps([{"userid": "a", "hash": GOOD}]), encoding="utf-8")
    assert import_users(store, path, format="json").imported == ("a",)
    with pytest.raises(ValueError, match="format must be one of csv, json"):
        import_users(store, path, format="xml")


# -- dry run --------------------------------------------------------------------------------


def test_a_dry_run_checks_everything_and_writes_nothing(store: MemoryUserStore) -> None:
    store.add_hashed("taken", GOOD)
    text = csv_text([["new", GOOD, ""], ["taken", GOOD, ""], ["bad:id", GOOD, ""]])
    report = import_text(store, text, "csv", dry_run=True)
    assert report.dry_run
    assert report.imported == ("new",)
    assert [str(r) for r in report.refused] == [
        "row 3: user 'taken' already exists",
        "row 4: userid must not contain ':' (RFC 7617)",
    ]
    assert report.summary() == "dry run, nothing written: would have imported 1, refused 2"
    assert list(store.userids()) == ["taken"]
    assert import_text(store, text, "csv").imported == ("new",)  # what it said it would


# -- stores ---------------------------------------------------------------------------------


class NoEmailStore:
    """A store whose add_hashed predates email addresses (as the SQL stores did)."""

    def __init__(self) -> None:
        self.inner = MemoryUserStore(hasher=PasswordHasher(rounds=4))

    def get(self, userid: str) -> User | None:
        return self.inner.get(userid)

    def add_hashed(self, userid: str, password_hash: str, roles: Iterable[str] = ()) -> User:
        return self.inner.add_hashed(userid, password_hash, roles)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_store_without_email_imports_the_rows_without_one(dry_run: bool) -> None:
    store = NoEmailStore()
    assert isinstance(store, ImportsHashes)
    text = csv_text(
        [["a", GOOD, "", ""], ["b", GOOD, "", "b@example.org"]], "userid,hash,roles,email"
    )
    report = import_text(store, text, "csv", dry_run=dry_run)
    assert report.imported == ("a",)
    assert [str(r) for r in report.refused] == [
        "row 3: email: this user store keeps no email addresses"
    ]


class StrictStore(NoEmailStore):
    """A store that refuses more than the importer checks, quoting what it was given."""

    def add_hashed(self, userid: str, password_hash: str, roles: Iterable[str] = ()) -> User:
        if userid == "race":
            raise UserExists(f"user {userid!r} already exists")  # added meanwhile
        raise ValueError(f"refusing {password_hash}")


def test_a_store_refusal_is_reported_without_the_hash() -> None:
    report = import_text(StrictStore(), csv_text([["a", GOOD, ""], ["race", GOOD, ""]]), "csv")
    assert [str(r) for r in report.refused] == [
        "row 2: refusing <hash>",
        "row 3: user 'race' already exists",
    ]


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "restauth.toml"
    path.write_text(
        "[restauth]\nrequire_https = false\n"
        "[users]\nkind = 'sqlite'\npath = 'auth.db'\nbcrypt_rounds = 4\n"
        "[tokens]\nkind = 'sqlite'\npath = 'auth.db'\n"
        "[[acl]]\npath = '/**'\nroles = ['$authenticated']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RESTAUTH_SECRET_KEY", KEY)
    monkeypatch.setenv("RESTAUTH_CONFIG", str(path))
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    sys.stdin = io.StringIO("")
    try:
        code = main(argv)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_imports_into_sqlite_and_logins_upgrade(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = {name: make(PASSWORD) for name, (make, _) in HASHES.items()}
    userids = {name: f"user{number}" for number, name in enumerate(HASHES)}
    path = config.parent / "users.csv"
    path.write_text(
        csv_text([[userids[name], stored, "staff"] for name, stored in made.items()]),
        encoding="utf-8",
    )
    code, out, err = run(["user", "import", str(path), "--dry-run"], capsys)
    assert (code, err) == (0, "")
    assert out == f"dry run, nothing written: would have imported {len(HASHES)}, refused 0\n"
    assert run(["user", "list"], capsys)[1] == ""

    code, out, err = run(["user", "import", str(path)], capsys)
    assert (code, out, err) == (0, f"imported {len(HASHES)}, refused 0\n", "")
    assert run(["user", "list"], capsys)[1].splitlines() == sorted(
        f"{userid}\tstaff" for userid in userids.values()
    )

    loaded = load_config(config)
    client = TestApp(loaded.middleware(echo_app))
    users = loaded.build_users()
    try:
        for name, userid in userids.items():
            client.get("/", headers={"Authorization": basic(userid, "nope")}, status=401)
            answer = client.get("/", headers={"Authorization": basic(userid, PASSWORD)})
            assert answer.json["userid"] == userid
            stored = users.get(userid)
            assert stored is not None
            assert stored.password_hash.startswith(V2_PREFIX), name
            assert (stored.password_hash != made[name]) is HASHES[name][1], name
    finally:
        if isinstance(users, Closeable):
            users.close()

    code, out, err = run(["user", "import", str(path)], capsys)  # again: nothing overwritten
    assert code == 1
    assert out.splitlines()[0] == f"imported 0, refused {len(HASHES)}"
    assert out.splitlines()[1] == "row 2: user 'user0' already exists"


def test_cli_reports_each_refused_row_and_exits_1(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config.parent / "users.txt"
    rows = [
        {"userid": "fine", "hash": django_pbkdf2(PASSWORD), "roles": ["user"]},
        {"userid": "plain", "hash": SECRET_LOOKING},
        {"userid": "costly", "hash": HUGE_PBKDF2},
        {"userid": "bad:id", "hash": GOOD},
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    code, out, err = run(["user", "import", "--format", "json", str(path)], capsys)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "imported 1, refused 3",
        "row 2: hash: not a password hash (a password itself? only hashes can be imported)",
        "row 3: hash: more than 10,000,000 PBKDF2 iterations (too costly at login)",
        "row 4: userid must not contain ':' (RFC 7617)",
    ]
    for secret in (SECRET_LOOKING, HUGE_PBKDF2, GOOD, django_pbkdf2(PASSWORD)):
        assert secret not in out
    assert run(["user", "list"], capsys)[1] == "fine\tuser\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file: expected a header row like userid,hash,roles,email"),
        ('userid,hash\na,"b"c\n', "line 2: not valid CSV"),
        ("userid,roles\n", "the header has no hash column"),
    ],
)
def test_cli_an_unreadable_file_is_one_line(
    config: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = config.parent / "users.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(["user", "import", str(path)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"restauth: {path}: {message}")
    assert err.endswith("; nothing imported\n")
    assert err.count("\n") == 1


def test_cli_a_missing_file_or_unknown_extension(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["user", "import", str(config.parent / "nope.csv")], capsys)
    assert code == 1
    assert "cannot read it: No such file or directory; nothing imported" in err
    (config.parent / "users.dat").write_text("[]", encoding="utf-8")
    code, _, err = run(["user", "import", str(config.parent / "users.dat")], capsys)
    assert code == 1
    assert "cannot tell csv from json" in err
    code, out, _ = run(
        ["user", "import", "--format", "json", str(config.parent / "users.dat")], capsys
    )
    assert (code, out) == (0, "imported 0, refused 0\n")


def test_cli_import_help_documents_the_formats_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["user", "import", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for fragment in ("userid,hash", "pbkdf2_sha256", "--dry-run", "Exit code 0", "1 when a row"):
        assert fragment in out


def test_cli_imports_email_addresses_where_the_store_keeps_them(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SQL stores take ``email`` once they keep addresses; before, such a row is refused
    (never imported without its address)."""
    path = config.parent / "users.json"
    rows = [
        {"userid": "mail", "hash": GOOD, "email": "mail@example.org"},
        {"userid": "nomail", "hash": GOOD},
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    code, out, _ = run(["user", "import", str(path)], capsys)
    users = load_config(config).build_users()
    try:
        keeps_email = "email" in inspect.signature(users.add_hashed).parameters  # type: ignore[attr-defined]
        assert users.get("nomail") is not None
        mail = users.get("mail")
        if keeps_email:
            assert (code, out) == (0, "imported 2, refused 0\n")
            assert mail is not None
            assert mail.email == "mail@example.org"
        else:
            assert code == 1
            assert "row 1: email: this user store keeps no email addresses" in out
            assert mail is None
    finally:
        if isinstance(users, Closeable):
            users.close()


# -- found in review -------------------------------------------------------------------


def test_a_wrong_password_against_a_cheap_imported_hash_costs_a_full_check(
    bcrypt_calls: list[bytes],
) -> None:
    """A PBKDF2 hash of one round checks in no time: a wrong password against it also
    spends a check at today's cost, as an unknown user does, so the time a wrong password
    takes does not say whether the user exists."""
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add_hashed("dj1", django_pbkdf2("the real passphrase", iterations=1))
    client = TestApp(AuthMiddleware(echo_app, users=users, throttle=None, password_cache=None))
    for userid in ("dj1", "nobody"):
        bcrypt_calls.clear()
        client.get("/", headers={"Authorization": basic(userid, "a wrong guess")}, status=401)
        assert len(bcrypt_calls) == 1, userid  # the dummy check at the configured cost


def test_a_user_removed_and_imported_again_has_no_old_session(tmp_path: Path) -> None:
    from restauth.tokens.sqlite import SQLiteTokenManager
    from restauth.users.sqlite import SQLiteUserStore

    database = tmp_path / "auth.db"
    users = SQLiteUserStore(database, hasher=PasswordHasher(rounds=4))
    tokens = SQLiteTokenManager(database, secret_key="k" * 32)
    row = json.dumps([{"userid": "alice", "hash": plain_bcrypt("the real passphrase")}])
    assert import_text(users, row, "json").imported == ("alice",)
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    auth = {"Authorization": basic("alice", "the real passphrase")}
    token = client.post("/tokens", headers=auth).json["token"]
    assert users.remove("alice")
    assert import_text(users, row, "json").imported == ("alice",)  # the very same hash
    client.get("/", headers={"Authorization": f"Bearer {token}"}, status=401)
    users.close()
    tokens.close()
