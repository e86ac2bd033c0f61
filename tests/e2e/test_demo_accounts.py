"""The demo page's accounts in a real browser, in token mode and in cookie mode:
registering (a weak password and a taken name refused with the server's reason), changing
the password (the page goes on with the session the answer carries), and a forgotten
password reset through the link the demo prints on its stderr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restauth.demo import server as demo_server
from restauth.users.sqlite import SQLiteUserStore
from tests.servers import Demo, request, running_demo, wait_until

COOKIE = "__Host-restauth"
NEW_USER = "carol"
FIRST_PASSWORD = "violet kayak 41"
SECOND_PASSWORD = "amber tractor 77"
SENT = "#forgot-notice:has-text('If the account exists, a reset link was sent.')"


@pytest.fixture(params=["token", "cookie"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Demo]:
    """A fresh demo per test (its own users, limits and log), in either mode."""
    extra = ("--cookie",) if request.param == "cookie" else ()
    with running_demo(tmp_path, *extra) as started:
        yield started


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 900, "height": 900})
    page = context.new_page()
    watch(page)
    yield page
    context.close()


def watch(page: Any) -> None:
    """Record every challenge and dialog the page meets (none may reach it)."""
    page.challenges = []
    page.dialogs = []
    page.on(
        "response",
        lambda response: (
            page.challenges.append(response.url) if "www-authenticate" in response.headers else None
        ),
    )
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))


def log_in(page: Any, userid: str, password: str) -> None:
    page.fill("#username", userid)
    page.fill("#password", password)
    page.click("#login-button")


def credential(page: Any) -> dict[str, str]:
    """The headers that carry the page's session: its Bearer token or its cookie."""
    token = page.evaluate("sessionStorage.getItem('restauth.token')")
    if token:
        return {"Authorization": f"Bearer {token}"}
    cookies = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(cookies) == 1
    return {"Cookie": f"{COOKIE}={cookies[0]['value']}"}


def notes_status(demo: Demo, headers: dict[str, str]) -> int:
    return request(demo.server.port, "GET", "/api/notes", headers).status


def session_elsewhere(demo: Demo, userid: str, password: str) -> dict[str, str]:
    """A session opened over REST (another device): the headers that carry it."""
    body = json.dumps({"username": userid, "password": password}).encode()
    answer = request(
        demo.server.port,
        "POST",
        "/tokens",
        {"Content-Type": "application/json", "X-Requested-With": "test"},
        body,
    )
    assert answer.status == 200, answer.body
    token = answer.json().get("token")
    if token:
        return {"Authorization": f"Bearer {token}"}
    cookie = answer.headers["Set-Cookie"]  # cookie mode: the token travels only there
    assert cookie.startswith(f"{COOKIE}=")
    return {"Cookie": cookie.split(";")[0]}


def reset_links(demo: Demo, userid: str) -> list[str]:
    """The reset links the demo printed for ``userid``."""
    pattern = rf"^restauth: password-reset for '{re.escape(userid)}': (\S+)$"
    return re.findall(pattern, demo.server.log_text(), re.M)


def test_register_change_password_and_log_in_again(page: Any, demo: Demo) -> None:
    page.goto(demo.url + "/")
    page.click("#register-link")
    page.wait_for_selector("#register-view:not([hidden])")
    assert page.is_hidden("#login-view")

    page.fill("#register-username", NEW_USER)
    page.fill("#register-password", "short")
    page.click("#register-button")
    page.wait_for_selector("#register-error:has-text('at least 8 characters')")
    page.fill("#register-password", f"{NEW_USER}-is-me")
    page.click("#register-button")
    page.wait_for_selector("#register-error:has-text('must not contain the username')")
    page.fill("#register-username", "bob")  # a seeded user: the name is taken
    page.fill("#register-password", FIRST_PASSWORD)
    page.click("#register-button")
    page.wait_for_selector("#register-error:has-text('not available')")
    assert page.is_visible("#register-view")

    page.fill("#register-username", NEW_USER)
    page.fill("#register-password", FIRST_PASSWORD)
    page.click("#register-button")  # registered, then logged in at once
    page.wait_for_selector(f"#who:has-text('{NEW_USER}')")
    page.wait_for_selector("body[data-loaded]")
    assert page.text_content("#roles") == "user"
    assert page.is_hidden("#register-view")
    assert page.input_value("#register-password") == ""
    first = credential(page)
    assert notes_status(demo, first) == 200

    page.fill("#current-password", "not my password")
    page.fill("#new-password", SECOND_PASSWORD)
    page.click("#password-button")
    page.wait_for_selector("#password-error:has-text('current password is not right')")
    page.fill("#current-password", FIRST_PASSWORD)
    page.fill("#new-password", "password")  # common
    page.click("#password-button")
    page.wait_for_selector("#password-error:has-text('common')")
    assert notes_status(demo, first) == 200  # nothing changed yet

    page.fill("#current-password", FIRST_PASSWORD)
    page.fill("#new-password", SECOND_PASSWORD)
    page.click("#password-button")
    page.wait_for_selector("#password-notice:has-text('Password changed')")
    assert page.is_hidden("#password-error")
    assert page.input_value("#current-password") == ""
    second = credential(page)
    assert second != first
    assert notes_status(demo, first) == 401  # every earlier session ended
    assert notes_status(demo, second) == 200
    page.fill("#note-text", "after the change")  # the page goes on with the new session
    page.click("#note-form button")
    page.wait_for_selector("#notes li:has-text('after the change')")
    assert page.is_visible("#app-view")

    page.click("#logout-button")
    page.wait_for_selector("#login-view:not([hidden])")
    assert notes_status(demo, second) == 401
    log_in(page, NEW_USER, FIRST_PASSWORD)
    page.wait_for_selector("#login-error:has-text('Wrong user name or password.')")
    log_in(page, NEW_USER, SECOND_PASSWORD)
    page.wait_for_selector(f"#who:has-text('{NEW_USER}')")
    assert page.challenges == []
    assert page.dialogs == []


def test_forgotten_password_reset_by_the_printed_link(page: Any, demo: Demo) -> None:
    elsewhere = session_elsewhere(demo, "bob", demo.passwords["bob"])
    assert notes_status(demo, elsewhere) == 200
    page.goto(demo.url + "/")
    page.fill("#username", "nobody-here")
    page.click("#forgot-link")
    page.wait_for_selector("#forgot-view:not([hidden])")
    assert page.input_value("#forgot-username") == "nobody-here"  # from the login form
    page.click("#forgot-button")  # no such user: answered the same way, nothing sent
    page.wait_for_selector(SENT)
    page.fill("#forgot-username", "bob")
    page.click("#forgot-button")  # the notice is hidden until this answer comes
    page.wait_for_selector(SENT)
    wait_until(lambda: reset_links(demo, "bob"), demo.server, "the reset link on stderr")
    [link] = reset_links(demo, "bob")
    assert link.startswith(demo.url + "/#reset=")
    # One outbox thread, in order: bob's link printed, the request before it was done.
    assert "nobody-here" not in demo.server.log_text()

    tab = page.context.new_page()  # the link opened from a mail: a new tab
    watch(tab)
    tab.goto(link)
    tab.wait_for_selector("#reset-view:not([hidden])")
    assert "reset=" not in tab.url  # the token left the address bar (and the history)
    tab.fill("#reset-password", "bob")
    tab.click("#reset-button")
    tab.wait_for_selector("#reset-error:has-text('at least 8 characters')")
    tab.fill("#reset-password", SECOND_PASSWORD)  # the refusal did not use the token
    tab.click("#reset-button")
    tab.wait_for_selector("#login-view:not([hidden])")
    tab.wait_for_selector("#login-notice:has-text('log in with the new one')")
    assert notes_status(demo, elsewhere) == 401  # the reset ended every session

    log_in(tab, "bob", demo.passwords["bob"])
    tab.wait_for_selector("#login-error:has-text('Wrong user name or password.')")
    assert tab.is_hidden("#login-notice")
    log_in(tab, "bob", SECOND_PASSWORD)
    tab.wait_for_selector("#who:has-text('bob')")
    tab.wait_for_selector("body[data-loaded]")

    page.goto(link)  # used once: the same link again, in the first tab (a hash change)
    page.wait_for_selector("#reset-view:not([hidden])")
    page.fill("#reset-password", "yet another secret 9")
    page.click("#reset-button")
    page.wait_for_selector("#reset-error:has-text('not valid')")
    page.click("#reset-view button.back")
    page.wait_for_selector("#login-view:not([hidden])")
    for seen in (page, tab):
        assert seen.challenges == []
        assert seen.dialogs == []


def test_seeded_passwords_satisfy_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random password holding the userid (once in about 3,000 starts for bob) is
    drawn again, not refused at start."""
    draws = iter(["xxBoBxxxxxxx", "x" * 12, "y" * 12])
    monkeypatch.setattr(demo_server.secrets, "token_urlsafe", lambda n: next(draws))
    users = SQLiteUserStore(tmp_path / "users.db")
    try:
        assert demo_server.new_password(users, "bob") == "x" * 12
    finally:
        users.close()
    assert demo_server.page_url("::1", 8080) == "http://[::1]:8080/"
    assert demo_server.page_url("127.0.0.1", 80) == "http://127.0.0.1:80/"
