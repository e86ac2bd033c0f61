"""The session endpoints over HTTP (issue 17): a token per login, listed, ended one by one
or all at once, rotated, managed by an admin; the basic session of Basic callers."""

from __future__ import annotations

from typing import Any

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore

from . import adapters
from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, BOB_PASSWORD, FakeClock, basic, echo_app

middleware = adapters.middleware  # conftest's fixture, built by the adapter under test
pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters

ALICE = {"username": "alice", "password": ALICE_PASSWORD}


def log_in(client: TestApp, body: dict[str, str] = ALICE, **headers: str) -> dict[str, Any]:
    response = client.post_json("/tokens", body, headers=headers)
    data: dict[str, Any] = response.json
    assert response.headers["Auth-Token"] == data["token"]
    return data


def token(value: str) -> dict[str, str]:
    return {"Authorization": f"Token {value}"}


def listed(client: TestApp, credentials: dict[str, str], userid: str = "alice") -> list[Any]:
    sessions: list[Any] = client.get(f"/tokens/{userid}", headers=credentials).json["sessions"]
    return sessions


def test_two_devices_get_two_sessions(client: TestApp) -> None:
    laptop = log_in(client, {**ALICE, "client": "laptop"})
    phone = log_in(client, ALICE, **{"User-Agent": "Phone/1.0 (\x07bell)"})
    assert laptop["token"] != phone["token"]
    assert laptop["session"] != phone["session"]
    info = client.get("/tokens/alice", headers=token(phone["token"]))
    assert info.json["session"] == phone["session"]
    assert info.headers["Auth-Token"] == phone["token"]
    sessions = info.json["sessions"]
    assert [(s["id"], s["client"], s["kind"], s["current"]) for s in sessions] == [
        (laptop["session"], "laptop", "login", False),
        (phone["session"], "Phone/1.0 (bell)", "login", True),
    ]
    for session in sessions:
        assert set(session) == {
            "id", "kind", "client", "created", "last_used", "valid_until", "current"
        }  # fmt: skip
    assert laptop["token"] not in info.text
    assert laptop["token"].partition(".")[0] not in info.text


def test_ending_one_device_leaves_the_other(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    response = client.delete(
        f"/tokens/alice/{laptop['session']}", headers=token(phone["token"]), status=204
    )
    assert "Set-Cookie" not in response.headers
    client.get("/", headers=token(laptop["token"]), status=401)
    client.get("/", headers=token(phone["token"]), status=200)
    assert [s["id"] for s in listed(client, token(phone["token"]))] == [phone["session"]]
    missing = client.delete(
        f"/tokens/alice/{laptop['session']}", headers=token(phone["token"]), status=404
    )
    assert missing.headers["Auth-Token"] == phone["token"]  # still logged in: said so
    assert missing.headers["Cache-Control"] == "no-store"


def test_logging_out_ends_the_calling_session_only(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    client.delete("/tokens/alice", headers=token(laptop["token"]), status=204)
    client.get("/", headers=token(laptop["token"]), status=401)
    client.get("/", headers=token(phone["token"]), status=200)


def test_log_out_everywhere(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    basic_token = client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    bob = log_in(client, {"username": "bob", "password": BOB_PASSWORD})
    client.delete("/tokens/alice?all=true", headers=token(phone["token"]), status=204)
    for dead in (laptop["token"], phone["token"], basic_token.headers["Auth-Token"]):
        client.get("/", headers=token(dead), status=401)
    client.get("/", headers=token(bob["token"]), status=200)
    password = {"Authorization": basic("alice", ALICE_PASSWORD)}
    assert [s["kind"] for s in listed(client, password)] == ["basic"]  # a fresh one


@pytest.mark.parametrize("flag", ["maybe", "2", "truee"])
def test_a_flag_that_is_not_a_boolean_is_400(client: TestApp, flag: str) -> None:
    laptop = log_in(client)
    client.delete(f"/tokens/alice?all={flag}", headers=token(laptop["token"]), status=400)
    client.post(f"/tokens?renew={flag}", headers=token(laptop["token"]), status=400)
    client.get("/", headers=token(laptop["token"]), status=200)


def test_all_false_ends_the_calling_session(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    client.delete("/tokens/alice?all=false", headers=token(laptop["token"]), status=204)
    client.get("/", headers=token(laptop["token"]), status=401)
    client.get("/", headers=token(phone["token"]), status=200)


def test_basic_callers_share_one_basic_session(client: TestApp) -> None:
    password = {"Authorization": basic("alice", ALICE_PASSWORD), "User-Agent": "script/1"}
    first = client.get("/", headers=password).headers["Auth-Token"]
    again = client.get("/", headers=password).headers["Auth-Token"]
    assert first == again
    sessions = listed(client, password)
    assert [(s["kind"], s["client"], s["current"]) for s in sessions] == [
        ("basic", "script/1", True)
    ]
    client.get("/", headers=token(first), status=200)
    as_password = {"Authorization": basic("alice", first)}  # token-as-password
    assert client.get("/", headers=as_password).json["mechanism"] == "token-basic"


def test_token_as_password_works_with_any_session(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    for value in (laptop["token"], phone["token"]):
        response = client.get("/", headers={"Authorization": basic("alice", value)})
        assert response.json["mechanism"] == "token-basic"
        assert response.headers["Auth-Token"] == value
    client.delete(
        "/tokens/alice", headers={"Authorization": basic("alice", laptop["token"])}, status=204
    )
    client.get("/", headers={"Authorization": basic("alice", laptop["token"])}, status=401)
    client.get("/", headers={"Authorization": basic("alice", phone["token"])}, status=200)


def test_renew_rotates_the_token(client: TestApp, clock: FakeClock) -> None:
    old = log_in(client, {**ALICE, "client": "phone"})
    clock.advance(60)
    response = client.post("/tokens?renew=true", headers=token(old["token"]))
    new = response.json
    assert new["token"] != old["token"]
    assert response.headers["Auth-Token"] == new["token"]
    assert response.headers["Cache-Control"] == "no-store"
    assert new["session"] == old["session"]
    assert new["valid_until"] == "2027-01-15T08:16:00.000Z"
    client.get("/", headers=token(old["token"]), status=401)  # ended at once
    client.get("/", headers=token(new["token"]), status=200)
    (session,) = listed(client, token(new["token"]))
    assert (session["id"], session["client"], session["current"]) == (old["session"], "phone", True)
    client.post("/tokens?renew=true", headers=token(old["token"]), status=401)


def test_renew_needs_a_token(client: TestApp) -> None:
    password = {"Authorization": basic("alice", ALICE_PASSWORD)}
    response = client.post("/tokens?renew=true", headers=password, status=400)
    assert "token" in response.json["detail"]
    client.post("/tokens?renew=true", status=401)
    client.post("/tokens?renew=true", headers=token("nope.nope"), status=401)


def test_logging_in_with_a_token_starts_no_new_session(client: TestApp) -> None:
    first = log_in(client)
    again = client.post("/tokens", headers=token(first["token"])).json
    assert (again["token"], again["session"]) == (first["token"], first["session"])
    assert len(listed(client, token(first["token"]))) == 1


def test_another_users_sessions_are_403(client: TestApp) -> None:
    bob = log_in(client, {"username": "bob", "password": BOB_PASSWORD})
    alice = log_in(client)
    for method, path in [
        ("get", "/tokens/alice"),
        ("delete", "/tokens/alice"),
        ("delete", "/tokens/alice?all=true"),
        ("delete", f"/tokens/alice/{alice['session']}"),
    ]:
        getattr(client, method)(path, headers=token(bob["token"]), status=403)
    client.get("/", headers=token(alice["token"]), status=200)


def test_the_cap_ends_the_oldest_login(users: MemoryUserStore, clock: FakeClock) -> None:
    tokens = MemoryTokenManager(max_sessions=2, clock=clock)
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    first, second, third = log_in(client), log_in(client), log_in(client)
    client.get("/", headers=token(first["token"]), status=401)
    assert [s["id"] for s in listed(client, token(third["token"]))] == [
        second["session"],
        third["session"],
    ]


def test_sessions_of_an_old_password_are_not_listed(
    client: TestApp, users: MemoryUserStore
) -> None:
    log_in(client)
    users.set_password("alice", "a-new-password-1")
    fresh = log_in(client, {"username": "alice", "password": "a-new-password-1"})
    assert [s["id"] for s in listed(client, token(fresh["token"]))] == [fresh["session"]]


def test_a_userid_with_a_slash(users: MemoryUserStore, client: TestApp) -> None:
    users.add("jo/sé", "pw-of-jose")
    body = {"username": "jo/sé", "password": "pw-of-jose"}
    one, two = log_in(client, body), log_in(client, body)
    path = "/tokens/jo%2Fs%C3%A9"
    assert len(listed(client, token(one["token"]), "jo%2Fs%C3%A9")) == 2
    client.delete(f"{path}/{one['session']}", headers=token(two["token"]), status=204)
    client.get("/", headers=token(one["token"]), status=401)
    client.delete(path, headers=token(two["token"]), status=204)
    client.get("/", headers=token(two["token"]), status=401)


def test_a_client_label_must_be_a_string(client: TestApp) -> None:
    client.post_json("/tokens", {**ALICE, "client": 7}, status=400)


def test_other_methods_on_a_session_are_405(client: TestApp) -> None:
    alice = log_in(client)
    response = client.put(
        f"/tokens/alice/{alice['session']}", headers=token(alice["token"]), status=405
    )
    assert response.headers["Allow"] == "GET, DELETE"


# -- the admin role ---------------------------------------------------------------------


@pytest.fixture
def admin_client(users: MemoryUserStore, tokens: MemoryTokenManager) -> TestApp:
    return TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, admin_role="admin"))


def test_an_admin_lists_and_ends_another_users_sessions(admin_client: TestApp) -> None:
    client = admin_client
    admin = log_in(client)  # alice holds the "admin" role
    bob_body = {"username": "bob", "password": BOB_PASSWORD}
    bob_one, bob_two = log_in(client, bob_body), log_in(client, bob_body)
    listing = client.get("/tokens/bob", headers=token(admin["token"]))
    assert listing.json["userid"] == "bob"
    assert [(s["id"], s["current"]) for s in listing.json["sessions"]] == [
        (bob_one["session"], False),
        (bob_two["session"], False),
    ]
    assert listing.headers["Auth-Token"] == admin["token"]  # the admin's own
    client.delete(f"/tokens/bob/{bob_one['session']}", headers=token(admin["token"]), status=204)
    client.get("/", headers=token(bob_one["token"]), status=401)
    client.get("/", headers=token(bob_two["token"]), status=200)
    client.delete("/tokens/bob", headers=token(admin["token"]), status=204)  # all of bob's
    client.get("/", headers=token(bob_two["token"]), status=401)
    client.get("/", headers=token(admin["token"]), status=200)


def test_without_the_role_nobody_is_admin(admin_client: TestApp) -> None:
    bob = log_in(admin_client, {"username": "bob", "password": BOB_PASSWORD})
    admin_client.get("/tokens/alice", headers=token(bob["token"]), status=403)


def test_admin_role_off_by_default(client: TestApp) -> None:
    alice = log_in(client)  # holds "admin", but no admin_role is configured
    client.get("/tokens/bob", headers=token(alice["token"]), status=403)


@pytest.mark.parametrize("role", ["", "  ", 5])
def test_a_bad_admin_role_is_refused(users: MemoryUserStore, role: object) -> None:
    with pytest.raises(ValueError, match="admin_role"):
        AuthMiddleware(echo_app, users=users, admin_role=role)  # type: ignore[arg-type]


def test_a_bare_flag_is_true(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    client.delete("/tokens/alice?all", headers=token(laptop["token"]), status=204)
    client.get("/", headers=token(phone["token"]), status=401)
    fresh = log_in(client)
    rotated = client.post("/tokens?renew", headers=token(fresh["token"])).json
    assert rotated["token"] != fresh["token"]


def test_renewing_a_dead_token_is_401_invalid_token(client: TestApp) -> None:
    alice = log_in(client)
    client.delete("/tokens/alice", headers=token(alice["token"]), status=204)
    response = client.post("/tokens?renew=true", headers=token(alice["token"]), status=401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_manager_of_the_one_token_protocol_is_refused_at_start(users: MemoryUserStore) -> None:
    class OneTokenPerUser:
        ttl = max_lifetime = 900.0

        def issue(self, userid: str, stamp: str) -> None: ...
        def authenticate(self, token: str) -> None: ...
        def lookup(self, userid: str) -> None: ...
        def revoke(self, userid: str) -> bool: ...

    with pytest.raises(ValueError, match="lacks renew, sessions, end"):
        AuthMiddleware(echo_app, users=users, tokens=OneTokenPerUser())  # type: ignore[arg-type]


# -- hostile paths and flags (review of issue 17) ---------------------------------------


def environ_path(client: TestApp, method: str, raw_path: str, headers: dict[str, str]) -> Any:
    """A request whose PATH_INFO is given as the server would hand it (Latin-1 text)."""
    environ = {"PATH_INFO": raw_path, "REQUEST_METHOD": method}
    environ |= {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return client.get("/", extra_environ=environ, expect_errors=True)


@pytest.mark.parametrize(
    "raw", ["/tokens/\xff", "/tokens/alice/\x00", "/tokens/\x00", "/tokens/a\nb"]
)
def test_unreadable_or_control_paths_are_refused_before_any_store(
    admin_client: TestApp, tokens: MemoryTokenManager, raw: str
) -> None:
    admin = log_in(admin_client)
    bob = log_in(admin_client, {"username": "bob", "password": BOB_PASSWORD})
    for method in ("GET", "DELETE"):
        as_admin = environ_path(admin_client, method, raw, token(admin["token"]))
        assert as_admin.status_int in (403, 404), as_admin.status  # never a 500 or 503
        as_bob = environ_path(admin_client, method, raw, token(bob["token"]))
        assert as_bob.status_int == 403
    admin_client.get("/", headers=token(admin["token"]), status=200)
    admin_client.get("/", headers=token(bob["token"]), status=200)


def test_an_admin_ends_one_session_whatever_the_all_flag_says(admin_client: TestApp) -> None:
    admin = log_in(admin_client)
    bob_body = {"username": "bob", "password": BOB_PASSWORD}
    one, two = log_in(admin_client, bob_body), log_in(admin_client, bob_body)
    path = f"/tokens/bob/{one['session']}"
    admin_client.delete(path + "?all=false", headers=token(admin["token"]), status=204)
    admin_client.get("/", headers=token(one["token"]), status=401)
    admin_client.get("/", headers=token(two["token"]), status=200)
    # with all=true the whole rest is a userid: nobody is called "bob/<session>"
    admin_client.delete(
        f"/tokens/bob/{two['session']}?all=true", headers=token(admin["token"]), status=404
    )
    admin_client.get("/", headers=token(two["token"]), status=200)
    admin_client.get("/tokens/nobody", headers=token(admin["token"]), status=404)


def test_an_admin_logs_out_a_user_whose_id_holds_a_slash(
    admin_client: TestApp, users: MemoryUserStore
) -> None:
    users.add("a/b", "pw-of-a-slash-b")
    admin = log_in(admin_client)
    victim = log_in(admin_client, {"username": "a/b", "password": "pw-of-a-slash-b"})
    admin_client.delete("/tokens/a%2Fb", headers=token(admin["token"]), status=204)
    admin_client.get("/", headers=token(victim["token"]), status=401)


@pytest.mark.parametrize("query", ["all=true&all=false", "all=1&all=no", "all=true&all=maybe"])
def test_conflicting_flags_are_400(client: TestApp, query: str) -> None:
    alice = log_in(client)
    client.delete(f"/tokens/alice?{query}", headers=token(alice["token"]), status=400)
    client.get("/", headers=token(alice["token"]), status=200)


def test_repeating_a_flag_alike_is_fine(client: TestApp) -> None:
    laptop, phone = log_in(client), log_in(client)
    client.delete("/tokens/alice?all=true&all=1", headers=token(laptop["token"]), status=204)
    client.get("/", headers=token(phone["token"]), status=401)


def test_a_client_label_cannot_reorder_text(client: TestApp) -> None:
    alice = log_in(client, {**ALICE, "client": "phone\u202egnp.exe\u2066x\u2069"})
    (session,) = listed(client, token(alice["token"]))
    assert session["client"] == "phonegnp.exex"


def test_an_ended_token_as_a_basic_password_is_recorded_not_guessed(
    client: TestApp, bcrypt_calls: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """Token-as-password with a token whose session is over: a 401 like a wrong password's,
    but no hash check, no throttle count, and an audit record naming its user."""
    import logging

    caplog.set_level(logging.INFO, logger="restauth.audit")
    alice = log_in(client)
    client.delete("/tokens/alice", headers=token(alice["token"]), status=204)
    bcrypt_calls.clear()
    as_password = {"Authorization": basic("alice", alice["token"])}
    wrong = client.get("/", headers={"Authorization": basic("alice", "wrong")}, status=401)
    bcrypt_calls.clear()
    for _ in range(8):  # past the throttle's 5: a dead token is no guess
        dead = client.get("/", headers=as_password, status=401)
        assert dead.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]
        assert dead.body == wrong.body
    assert bcrypt_calls == []
    ended = [r for r in caplog.records if getattr(r, "restauth", {}).get("event") == "token.ended"]
    assert len(ended) == 8
    assert ended[0].restauth["session"] == alice["session"]  # type: ignore[attr-defined]
    client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)
