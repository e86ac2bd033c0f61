"""The demo page in a real browser: the whole flow of the seed documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Demo, request, running_demo

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "demo.png"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as started:
        yield started


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 900, "height": 760})
    page = context.new_page()
    page.challenges = []  # every WWW-Authenticate the browser saw (none may reach it)
    page.dialogs = []
    page.on(
        "response",
        lambda response: (
            page.challenges.append(response.url) if "www-authenticate" in response.headers else None
        ),
    )
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def log_in(page: Any, demo: Demo, userid: str, password: str | None = None) -> None:
    page.goto(demo.url + "/")
    page.fill("#username", userid)
    page.fill("#password", password if password is not None else demo.passwords[userid])
    page.click("#login-button")


def api_status(demo: Demo, path: str, token: str) -> int:
    return request(demo.server.port, "GET", path, {"Authorization": f"Bearer {token}"}).status


def test_admin_flow_in_token_mode(page: Any, demo: Demo) -> None:
    log_in(page, demo, "alice", "not the password")
    page.wait_for_selector("#login-error:has-text('Wrong user name or password.')")
    assert page.is_visible("#login-view")

    log_in(page, demo, "alice")
    page.wait_for_selector("#who:has-text('alice')")
    assert page.text_content("#roles") == "admin, user"
    page.wait_for_selector("#admin-section:not([hidden])")
    assert "alice" in page.text_content("#admin-users")
    page.wait_for_function(
        "/\\d+ min \\d+ s/.test(document.getElementById('validity').textContent)"
    )
    assert page.evaluate("localStorage.length") == 0
    token = page.evaluate("sessionStorage.getItem('restauth.token')")
    assert token
    assert "." in token

    page.fill("#note-text", "buy milk")
    page.click("#note-form button")
    page.wait_for_selector("#notes li:has-text('buy milk')")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.reload()
    page.wait_for_selector("#who:has-text('alice')")
    page.wait_for_selector("#notes li:has-text('buy milk')")

    page.click("#logout-button")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('restauth.token')") is None
    assert api_status(demo, "/api/notes", token) == 401
    assert page.challenges == []
    assert page.dialogs == []


def test_non_admin_is_denied_the_admin_section(page: Any, demo: Demo) -> None:
    log_in(page, demo, "bob")
    page.wait_for_selector("#who:has-text('bob')")
    page.wait_for_selector("#admin-denied:has-text('403')")
    assert page.is_hidden("#admin-section")
    token = page.evaluate("sessionStorage.getItem('restauth.token')")
    assert api_status(demo, "/api/admin/users", token) == 403
    assert page.challenges == []


def test_expired_session_returns_to_the_form(page: Any, demo: Demo) -> None:
    log_in(page, demo, "bob")
    page.wait_for_selector("#who:has-text('bob')")
    page.wait_for_selector("body[data-loaded]")  # notes, sessions, admin table: all loaded
    token = page.evaluate("sessionStorage.getItem('restauth.token')")
    bearer = {"Authorization": f"Bearer {token}"}
    logout = request(demo.server.port, "DELETE", "/tokens/bob", bearer)  # logged out elsewhere
    assert logout.status == 204
    page.fill("#note-text", "too late")
    page.click("#note-form button")
    page.wait_for_selector("#login-error:has-text('expired')")
    assert page.challenges == []


@pytest.fixture(scope="module")
def cookie_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("cookie_demo"), "--cookie") as started:
        yield started


def test_whole_flow_in_cookie_mode(page: Any, cookie_demo: Demo) -> None:
    demo = cookie_demo
    log_in(page, demo, "alice", "wrong")
    page.wait_for_selector("#login-error:has-text('Wrong user name or password.')")

    log_in(page, demo, "alice")
    page.wait_for_selector("#who:has-text('alice')")
    page.wait_for_selector("#mode:has-text('HttpOnly cookie')")
    page.wait_for_selector("#admin-section:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('restauth.token')") is None
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["__Host-restauth"]
    assert cookies[0]["httpOnly"]
    assert cookies[0]["secure"]
    assert cookies[0]["sameSite"] == "Strict"
    token = cookies[0]["value"]

    page.fill("#note-text", "cookie note")
    page.click("#note-form button")  # POST with X-Requested-With: the CSRF proof
    page.wait_for_selector("#notes li:has-text('cookie note')")
    page.reload()
    page.wait_for_selector("#notes li:has-text('cookie note')")

    page.click("#logout-button")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.context.cookies() == []  # the deletion was honoured by the browser
    assert api_status(demo, "/api/notes", token) == 401
    assert page.challenges == []
    assert page.dialogs == []


def test_cookie_mode_non_admin(page: Any, cookie_demo: Demo) -> None:
    log_in(page, cookie_demo, "bob")
    page.wait_for_selector("#admin-denied:has-text('403')")
    assert page.is_hidden("#admin-section")
