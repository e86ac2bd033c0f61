"""The ``/users`` endpoints end to end, on every account store (memory, SQLite, PostgreSQL):
registration in each mode, profiles, password change, reset and verification through the
notifier, administration, and the hostile inputs (400, 405, 409, 413, 415, 429, 503)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from webtest import TestApp

from restauth import Accounts, MemoryTokenManager, MemoryUserStore
from restauth.notify import Purpose
from tests.adapters import AuthMiddleware
from tests.conftest import basic, echo_app
from tests.storage.conftest import UserFactory

ROOT_PASSWORD = "keeper of all keys 1"
ALICE_PASSWORD = "wonderland rabbit hole"
NEW_PASSWORD = "through the looking glass"

pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters


class Outbox:
    """A notifier that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Purpose, str]] = []
        self.lock = threading.Lock()

    def __call__(self, userid: str, purpose: Purpose, token: str) -> None:
        with self.lock:
            self.sent.append((userid, purpose, token))

    def tokens(self, userid: str, purpose: Purpose) -> list[str]:
        return [t for u, p, t in self.sent if u == userid and p == purpose]


class Site:
    """A middleware with accounts, its test client, its store and its notifier."""

    made: ClassVar[list[Site]] = []  # this test's sites, drained before its stores close

    def __init__(self, users: Any, **accounts: Any) -> None:
        Site.made.append(self)
        self.users = users
        self.outbox = Outbox()
        self.tokens = MemoryTokenManager()
        accounts.setdefault("notifier", self.outbox)
        self.middleware = AuthMiddleware(
            echo_app,
            users=users,
            tokens=self.tokens,
            admin_role="admin",
            accounts=Accounts(**accounts),
        )
        self.client = TestApp(self.middleware)
        if users.get("root") is None:
            users.add("root", ROOT_PASSWORD, roles=["admin"])

    def flush(self) -> None:
        """Wait for the notifications queued so far."""
        accounts = self.middleware.pipeline.endpoints.accounts
        assert accounts is not None
        accounts.context.outbox.join()

    def register(self, username: str = "alice", password: str = ALICE_PASSWORD, **more: Any) -> Any:
        body = {"username": username, "password": password, **more}
        return self.client.post_json("/users", body, status="*", headers=more.pop("headers", {}))

    def login(self, userid: str, password: str) -> str:
        reply = self.client.post("/tokens", headers={"Authorization": basic(userid, password)})
        token: str = reply.json["token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ROOT = {"Authorization": basic("root", ROOT_PASSWORD)}


@pytest.fixture(autouse=True)
def _drained(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every site's queued notifications are done before the test's stores close (the
    store fixture is asked for here, so it is torn down after this): a job left running
    would write to a closed store, and log into the next test."""
    if "make_users" in request.fixturenames:
        request.getfixturevalue("make_users")
    Site.made.clear()
    yield
    for site in Site.made:
        site.flush()
    Site.made.clear()


@pytest.fixture
def site(make_users: UserFactory) -> Site:
    return Site(make_users(), registration="open")


# -- registration ------------------------------------------------------------------------


def test_open_registration_creates_a_working_account(site: Site) -> None:
    reply = site.register(email="alice@example.org")
    assert reply.status_int == 201
    assert reply.headers["Location"] == "/users/alice"
    assert reply.json["userid"] == "alice"
    assert reply.json["verified"] is True
    assert reply.json["email"] == "alice@example.org"
    assert reply.json["created"].endswith("Z")
    assert set(reply.json) == {"userid", "roles", "created", "verified", "disabled", "email"}
    assert ALICE_PASSWORD not in reply.text
    site.client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)


def test_a_taken_userid_is_409_with_a_generic_body(site: Site) -> None:
    site.register()
    reply = site.register(password="another good passphrase")
    assert reply.status_int == 409
    assert "alice" not in reply.text
    site.client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 8"),
        ("password123", "common"),
        ("xx-alice-xx", "username"),
        ("ALICE-in-town", "username"),
    ],
)
def test_a_weak_password_is_400_with_a_reason(site: Site, password: str, reason: str) -> None:
    reply = site.register(password=password)
    assert reply.status_int == 400
    assert reason in reply.json["detail"]
    assert password not in reply.text
    assert site.users.get("alice") is None


def test_self_registration_cannot_give_roles(site: Site) -> None:
    reply = site.register(roles=["admin"])
    assert reply.status_int == 403
    assert site.users.get("alice") is None


def test_default_roles_are_given(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="open", default_roles=["reader"])
    assert site.register().json["roles"] == ["reader"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"username": "alice"}', "application/json", 400),
        (b'{"username": "alice", "password": 5}', "application/json", 400),
        (b'{"username": "a:b", "password": "good passphrase 1"}', "application/json", 400),
        (
            b'{"username": "x", "password": "good passphrase 1", "admin": true}',
            "application/json",
            400,
        ),
        (b"[1, 2]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b'{"username": "alice", "password": "good passphrase 1"}', "text/plain", 415),
        (b"username=alice&password=x", "application/x-www-form-urlencoded", 415),
        (b"", "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 413),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    ],
)
def test_bad_bodies_get_a_clear_4xx(
    site: Site, body: bytes, content_type: str, status: int
) -> None:
    reply = site.client.post("/users", body, headers={"Content-Type": content_type}, status="*")
    assert reply.status_int == status
    assert reply.content_type == "application/problem+json"


def test_unknown_methods_are_405_with_allow(site: Site) -> None:
    reply = site.client.put("/users", status=405)
    assert reply.headers["Allow"] == "GET, POST"
    reply = site.client.post("/users/alice", status=405)
    assert reply.headers["Allow"] == "GET, PATCH, DELETE"
    reply = site.client.get("/users/alice/password", status="*")  # a profile, not the password
    assert reply.status_int == 401


def test_registration_is_throttled_per_address(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="open", requests_per_address=3)
    for index in range(3):
        assert site.register(f"user{index}", ALICE_PASSWORD).status_int == 201
    refused = site.register("user9", ALICE_PASSWORD)
    assert refused.status_int == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert site.users.get("user9") is None
    other = site.client.post_json(
        "/users",
        {"username": "user8", "password": ALICE_PASSWORD},
        extra_environ={"REMOTE_ADDR": "192.0.2.8"},
        status="*",
    )
    assert other.status_int == 201  # another address has its own allowance


def test_registration_off_needs_an_admin(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="off")
    assert site.register().status_int == 401
    created = site.client.post_json(
        "/users",
        {"username": "alice", "password": ALICE_PASSWORD, "roles": ["editor"]},
        headers=ROOT,
    )
    assert created.status_int == 201
    assert created.json["roles"] == ["editor"]
    assert "Auth-Token" in created.headers  # the admin's own session headers
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    assert site.client.post_json("/users", {"username": "bob", "password": NEW_PASSWORD},
                                 headers=auth, status="*").status_int == 403  # fmt: skip


# -- verify mode ---------------------------------------------------------------------------


def test_verify_mode_account_works_once_confirmed(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="verify")
    reply = site.register(email="alice@example.org")
    assert reply.status_int == 201
    assert reply.json["verified"] is False
    wrong = site.client.get(
        "/", headers={"Authorization": basic("alice", "a wrong passphrase")}, status=401
    )
    unverified = site.client.get(
        "/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=401
    )
    assert unverified.body == wrong.body
    assert sorted(unverified.headers.items()) == sorted(wrong.headers.items())
    site.flush()
    (token,) = site.outbox.tokens("alice", "verify")
    site.client.post_json("/users/verification/confirm", {"token": token}, status=204)
    site.client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)
    again = site.client.post_json("/users/verification/confirm", {"token": token}, status=400)
    assert token not in again.text


def test_verify_mode_needs_an_address(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="verify")
    assert site.register().status_int == 400
    assert site.register("alice@example.org").status_int == 201


def test_verification_can_be_asked_again_and_ends_the_older_token(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="verify")
    site.register(email="alice@example.org")
    site.flush()
    site.client.post_json("/users/verification", {"username": "alice"}, status=202)
    site.client.post_json("/users/verification", {"username": "nobody"}, status=202)
    site.flush()
    first, second = site.outbox.tokens("alice", "verify")
    site.client.post_json("/users/verification/confirm", {"token": first}, status=400)
    site.client.post_json("/users/verification/confirm", {"token": second}, status=204)
    assert site.outbox.tokens("nobody", "verify") == []


# -- profiles ------------------------------------------------------------------------------


def test_profile_is_own_or_an_admins(site: Site) -> None:
    site.register()
    site.register("bob", NEW_PASSWORD)
    alice = {"Authorization": basic("alice", ALICE_PASSWORD)}
    own = site.client.get("/users/alice", headers=alice, status=200)
    assert own.json["userid"] == "alice"
    assert "password_hash" not in own.text
    assert "stamp" not in own.json
    other = site.client.get("/users/bob", headers=alice, status=403)
    nobody = site.client.get("/users/nobody", headers=alice, status=403)
    assert other.body == nobody.body  # whether bob exists is not told
    assert site.client.get("/users/bob", headers=ROOT).json["userid"] == "bob"
    site.client.get("/users/nobody", headers=ROOT, status=404)
    site.client.get("/users/alice", status=401)


# -- password change -----------------------------------------------------------------------


def test_change_password_needs_the_current_one_even_with_a_token(site: Site) -> None:
    site.register()
    token = site.login("alice", ALICE_PASSWORD)
    other_device = site.login("alice", ALICE_PASSWORD)
    body = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    site.client.put_json("/users/alice/password", body, headers=bearer(token), status=400)
    body["current_password"] = ALICE_PASSWORD
    changed = site.client.put_json("/users/alice/password", body, headers=bearer(token))
    assert changed.status_int == 200
    new_token = changed.json["token"]
    assert changed.headers["Auth-Token"] == new_token
    assert changed.headers["Cache-Control"] == "no-store"
    site.client.get("/", headers=bearer(token), status=401)  # the calling token: replaced
    site.client.get("/", headers=bearer(other_device), status=401)  # every other session ended
    site.client.get("/", headers=bearer(new_token), status=200)  # the caller continues
    stamp = site.users.get("alice").stamp
    live = [s.id for s in site.tokens.sessions("alice") if s.stamp == stamp]
    assert live == [changed.json["session"]]
    site.client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=401)
    site.client.get("/", headers={"Authorization": basic("alice", NEW_PASSWORD)}, status=200)


def test_change_password_with_basic_is_204(site: Site) -> None:
    site.register()
    body = {"current_password": ALICE_PASSWORD, "new_password": NEW_PASSWORD}
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    reply = site.client.put_json("/users/alice/password", body, headers=auth, status=204)
    assert "Auth-Token" not in reply.headers
    site.client.get("/", headers={"Authorization": basic("alice", NEW_PASSWORD)}, status=200)


def test_change_password_applies_the_policy_and_refuses_others(site: Site) -> None:
    site.register()
    site.register("bob", NEW_PASSWORD)
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    weak = {"current_password": ALICE_PASSWORD, "new_password": "qwertyuiop"}
    assert (
        "common"
        in site.client.put_json("/users/alice/password", weak, headers=auth, status=400).json[
            "detail"
        ]
    )
    body = {"current_password": NEW_PASSWORD, "new_password": "bob lost his keys"}
    site.client.put_json("/users/bob/password", body, headers=auth, status=403)
    site.client.put_json("/users/bob/password", body, headers=ROOT, status=403)
    site.client.put_json("/users/alice/password", body, status=401)


def test_wrong_current_passwords_are_throttled(site: Site) -> None:
    site.register()
    token = site.login("alice", ALICE_PASSWORD)
    body = {"current_password": "guess number 1", "new_password": NEW_PASSWORD}
    statuses = []
    for _ in range(7):
        reply = site.client.put_json(
            "/users/alice/password", body, headers=bearer(token), status="*"
        )
        statuses.append(reply.status_int)
    assert statuses[:5] == [400] * 5
    assert statuses[-1] == 429


# -- password reset ------------------------------------------------------------------------


def test_reset_answers_the_same_for_known_and_unknown_users(site: Site) -> None:
    site.register()
    known = site.client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    unknown = site.client.post_json("/users/password-reset", {"username": "nobody"}, status=202)
    assert known.body == unknown.body == b""
    assert sorted(known.headers.items()) == sorted(unknown.headers.items())
    site.flush()
    assert [(u, p) for u, p, _ in site.outbox.sent] == [("alice", "password-reset")]


def test_reset_sets_a_new_password_and_ends_every_session(site: Site) -> None:
    site.register()
    token = site.login("alice", ALICE_PASSWORD)
    site.client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    site.flush()
    (reset,) = site.outbox.tokens("alice", "password-reset")
    assert len(reset) >= 43  # 256 bits, base64url
    weak = site.client.post_json(
        "/users/password-reset/confirm", {"token": reset, "new_password": "123456789"}, status=400
    )
    assert reset not in weak.text
    site.client.post_json(
        "/users/password-reset/confirm", {"token": reset, "new_password": NEW_PASSWORD}, status=204
    )  # the refused password did not use the token up
    site.client.get("/", headers=bearer(token), status=401)
    site.client.get("/", headers={"Authorization": basic("alice", NEW_PASSWORD)}, status=200)
    site.client.post_json(
        "/users/password-reset/confirm",
        {"token": reset, "new_password": "yet another passphrase"},
        status=400,
    )


def test_a_newer_reset_or_a_password_change_ends_a_reset_token(site: Site) -> None:
    site.register()
    for _ in range(2):
        site.client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    site.flush()
    older, newer = site.outbox.tokens("alice", "password-reset")
    confirm = {"new_password": NEW_PASSWORD}
    site.client.post_json("/users/password-reset/confirm", {"token": older, **confirm}, status=400)
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    change = {"current_password": ALICE_PASSWORD, "new_password": "a changed passphrase"}
    site.client.put_json("/users/alice/password", change, headers=auth, status=204)
    site.client.post_json("/users/password-reset/confirm", {"token": newer, **confirm}, status=400)


def test_a_reset_token_expires(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="open", reset_ttl=0.3)
    site.register()
    site.client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    site.flush()
    (reset,) = site.outbox.tokens("alice", "password-reset")
    time.sleep(0.4)
    site.client.post_json(
        "/users/password-reset/confirm", {"token": reset, "new_password": NEW_PASSWORD}, status=400
    )


def test_a_reset_token_is_used_once_under_a_race(site: Site) -> None:
    site.register()
    site.client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    site.flush()
    (reset,) = site.outbox.tokens("alice", "password-reset")
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def confirm(index: int) -> None:
        barrier.wait()
        body = {"token": reset, "new_password": f"racing passphrase {index}"}
        reply = site.client.post_json("/users/password-reset/confirm", body, status="*")
        statuses.append(reply.status_int)

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [204, 400, 400, 400]


@pytest.mark.parametrize("token", ["", "x" * 500, "ünïcode", "a" * 43, None, 7])
def test_garbage_reset_tokens_are_400(site: Site, token: object) -> None:
    body = {"token": token, "new_password": NEW_PASSWORD}
    site.client.post_json("/users/password-reset/confirm", body, status=400)


def test_reset_requests_are_throttled_per_address(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="open", requests_per_address=2)
    for _ in range(2):
        site.client.post_json("/users/password-reset", {"username": "x"}, status=202)
    site.client.post_json("/users/password-reset", {"username": "x"}, status=429)


def test_reset_is_off_without_a_notifier(make_users: UserFactory) -> None:
    """Without a notifier the action names are userids like any other: POST is 405."""
    site = Site(make_users(), registration="open", notifier=None)
    for action in ("password-reset", "password-reset/confirm", "verification/confirm"):
        reply = site.client.post_json(f"/users/{action}", {"username": "alice"}, status=405)
        assert reply.headers["Allow"] == "GET, PATCH, DELETE"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users", {"username": "alice", "password": ALICE_PASSWORD}),
        ("POST", "/users/password-reset", {"username": "alice"}),
        ("POST", "/users/password-reset/confirm", {"token": "x" * 43, "new_password": "abc"}),
        ("PUT", "/users/root/password", {"current_password": "x", "new_password": "y"}),
        ("GET", "/users", None),
    ],
)
def test_plain_http_is_refused_before_any_body_is_read(
    site: Site, method: str, path: str, body: dict[str, str] | None
) -> None:
    """Passwords and tokens travel in these bodies: over plain HTTP (``require_https``,
    the default) every account endpoint is 403, as a login is."""
    reply = site.client.request(
        path,
        method=method,
        body=b"" if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **ROOT},
        environ={"wsgi.url_scheme": "http"},
        expect_errors=True,
    )
    assert reply.status_int == 403
    assert "HTTPS" in reply.json["detail"]
    assert site.users.get("alice") is None
    data = b"" if body is None else json.dumps(body).encode()
    read: list[int] = []

    class Watched(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            read.append(-1 if size is None else size)
            return super().read(size)

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.url_scheme": "http",
        "HTTP_HOST": "localhost", "HTTP_AUTHORIZATION": ROOT["Authorization"],
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": Watched(data),
    }  # fmt: skip
    statuses: list[str] = []
    b"".join(site.middleware(environ, lambda status, *_: statuses.append(status)))
    assert statuses[0].startswith("403")
    assert read == []  # not a byte of it


# -- administration ------------------------------------------------------------------------


def test_admin_lists_users_in_pages(site: Site) -> None:
    for name in ("carol", "alice", "bob"):
        site.register(name, ALICE_PASSWORD)
    first = site.client.get("/users?limit=2", headers=ROOT).json
    assert [u["userid"] for u in first["users"]] == ["alice", "bob"]
    second = site.client.get(f"/users?limit=2&after={first['next']}", headers=ROOT).json
    assert [u["userid"] for u in second["users"]] == ["carol", "root"]
    last = site.client.get(f"/users?limit=2&after={second['next']}", headers=ROOT).json
    assert last == {"users": [], "next": None}
    for bad in ("limit=0", "limit=x", "limit=100000", "limit=-1"):
        site.client.get(f"/users?{bad}", headers=ROOT, status=400)
    site.client.get("/users", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=403)
    site.client.get("/users", status=401)


def test_admin_disables_and_enables_a_user(site: Site) -> None:
    site.register()
    token = site.login("alice", ALICE_PASSWORD)
    patched = site.client.patch_json("/users/alice", {"disabled": True}, headers=ROOT)
    assert patched.json["disabled"] is True
    site.client.get("/", headers=bearer(token), status=401)
    refused = site.client.get(
        "/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=401
    )
    wrong = site.client.get(
        "/", headers={"Authorization": basic("alice", "a wrong passphrase")}, status=401
    )
    assert refused.body == wrong.body
    site.client.post(
        "/tokens", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=401
    )
    site.client.patch_json("/users/alice", {"disabled": False, "roles": ["editor"]}, headers=ROOT)
    reply = site.client.get(
        "/roles/alice", headers={"Authorization": basic("alice", ALICE_PASSWORD)}
    )
    assert reply.json["roles"] == ["editor"]


@pytest.mark.parametrize(
    "body",
    [{}, {"roles": "admin"}, {"disabled": "yes"}, {"verified": 1}, {"email": 5},
     {"password_hash": "x"}, {"roles": [1]}, {"email": "not an address"}],
)  # fmt: skip
def test_admin_patch_refuses_bad_bodies(site: Site, body: dict[str, Any]) -> None:
    site.register()
    site.client.patch_json("/users/alice", body, headers=ROOT, status=400)


def test_admin_deletes_a_user(site: Site) -> None:
    site.register()
    token = site.login("alice", ALICE_PASSWORD)
    site.client.delete(
        "/users/alice", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=403
    )
    site.client.delete("/users/alice", headers=ROOT, status=204)
    site.client.get("/", headers=bearer(token), status=401)
    site.client.delete("/users/alice", headers=ROOT, status=404)
    site.client.patch_json("/users/alice", {"disabled": True}, headers=ROOT, status=404)
    assert site.register().status_int == 201  # the userid is free again


# -- secrets and failures ------------------------------------------------------------------


def test_no_secret_reaches_a_log(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    site.register()
    token = site.login("alice", ALICE_PASSWORD)
    change = {"current_password": ALICE_PASSWORD, "new_password": NEW_PASSWORD}
    site.client.put_json("/users/alice/password", change, headers=bearer(token))
    site.client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    site.flush()
    (reset,) = site.outbox.tokens("alice", "password-reset")
    final = "the final passphrase"
    site.client.post_json("/users/password-reset/confirm", {"token": reset, "new_password": final})
    text = "\n".join(record.getMessage() + json.dumps(getattr(record, "restauth", {}), default=str)
                     for record in caplog.records)  # fmt: skip
    assert "account.register" in text
    assert "password.reset" in text
    for secret in (ALICE_PASSWORD, NEW_PASSWORD, final, reset, token):
        assert secret not in text


class BrokenStore(MemoryUserStore):
    def add(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database at postgres://u:hunter2@db is gone")


def test_a_store_that_fails_is_503(caplog: pytest.LogCaptureFixture) -> None:
    site = Site.__new__(Site)
    users = BrokenStore()
    site.users = users
    site.outbox = Outbox()
    site.middleware = AuthMiddleware(echo_app, users=users, accounts=Accounts("open"))
    site.client = TestApp(site.middleware)
    reply = site.register()
    assert reply.status_int == 503
    assert "Retry-After" in reply.headers
    assert "hunter2" not in caplog.text


def test_messages_to_one_user_are_limited_whatever_the_address(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="open", requests_per_address=2)
    site.register()
    for index in range(4):
        site.client.post_json(
            "/users/password-reset",
            {"username": "alice"},
            extra_environ={"REMOTE_ADDR": f"192.0.2.{index + 10}"},
            status=202,
        )
    site.flush()
    assert len(site.outbox.tokens("alice", "password-reset")) == 2


def test_the_new_session_keeps_the_calling_sessions_label(site: Site) -> None:
    site.register()
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    token = site.client.post_json("/tokens", {"client": "alice's phone"}, headers=auth).json[
        "token"
    ]
    body = {"current_password": ALICE_PASSWORD, "new_password": NEW_PASSWORD}
    changed = site.client.put_json("/users/alice/password", body, headers=bearer(token)).json
    (session,) = [s for s in site.tokens.sessions("alice") if s.id == changed["session"]]
    assert session.client == "alice's phone"
    assert session.kind == "login"


# -- found in review -----------------------------------------------------------------------


def test_an_address_userid_is_the_address_verified(make_users: UserFactory) -> None:
    site = Site(make_users(), registration="verify")
    squat = site.register("ceo@corp.example", email="me@evil.example")
    assert squat.status_int == 400
    assert site.register("ceo@corp.example").status_int == 201
    site.flush()
    assert site.outbox.tokens("ceo@corp.example", "verify")
    assert site.users.get("ceo@corp.example").email == "ceo@corp.example"


def test_an_unconfirmed_registration_holds_its_userid_for_verify_ttl_only(
    make_users: UserFactory,
) -> None:
    site = Site(make_users(), registration="verify", verify_ttl=0.3)
    assert site.register("ceo@corp.example").status_int == 201
    assert site.register("ceo@corp.example", NEW_PASSWORD).status_int == 409  # still pending
    time.sleep(0.4)
    again = site.register("ceo@corp.example", NEW_PASSWORD)
    assert again.status_int == 201  # the stale one was replaced
    site.flush()
    first, second = site.outbox.tokens("ceo@corp.example", "verify")
    site.client.post_json("/users/verification/confirm", {"token": first}, status=400)
    site.client.post_json("/users/verification/confirm", {"token": second}, status=204)
    auth = {"Authorization": basic("ceo@corp.example", NEW_PASSWORD)}
    site.client.get("/", headers=auth, status=200)
    time.sleep(0.4)
    assert site.register("ceo@corp.example", ALICE_PASSWORD).status_int == 409  # confirmed


@pytest.mark.parametrize("limit", ["²", "9" * 5000, "1e3", " 5", "٣"])
def test_hostile_page_sizes_are_400(site: Site, limit: str) -> None:
    site.client.get("/users", params={"limit": limit}, headers=ROOT, status=400)


@pytest.mark.parametrize("path", ["/users/a%00b", "/users/a%01b", "/users/%ff"])
def test_a_path_no_userid_can_be_is_not_a_store_call(site: Site, path: str) -> None:
    site.client.get(path, headers=ROOT, status=404)
    site.client.patch_json(path, {"disabled": True}, headers=ROOT, status=404)
    site.client.delete(path, headers=ROOT, status=404)
    site.client.get(path, headers={"Authorization": basic("root", ROOT_PASSWORD)}, status=404)
    site.client.get("/users", params={"after": "a\x00b"}, headers=ROOT, status=400)
    site.client.post_json("/users/password-reset", {"username": "a\x00b"}, status=202)
    site.flush()


def test_an_admin_who_disables_themselves_gets_no_token(site: Site) -> None:
    reply = site.client.patch_json("/users/root", {"disabled": True}, headers=ROOT)
    assert reply.json["disabled"] is True
    assert "Auth-Token" not in reply.headers
    site.client.get("/", headers=ROOT, status=401)


def test_an_identity_providers_caller_does_not_read_a_local_users_profile(
    make_users: UserFactory,
) -> None:
    from restauth import Identity

    class Provider:
        def handles(self, token: str) -> bool:
            return token.startswith("idp.")

        def authenticate(self, token: str) -> Identity | None:
            return Identity(token[4:], frozenset(), "jwt")

    users = make_users()
    users.add("alice", ALICE_PASSWORD, email="alice@example.org")
    middleware = AuthMiddleware(echo_app, users=users, bearer=Provider(), accounts=Accounts("open"))
    client = TestApp(middleware)
    client.get("/users/alice", headers={"Authorization": "Bearer idp.alice"}, status=403)
    client.get(
        "/users/alice", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200
    )
