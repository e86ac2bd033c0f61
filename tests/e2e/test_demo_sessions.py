"""The demo page's "Sessions" section in a real browser: two devices (two browser contexts,
two cookie jars, two sessionStorages) of one user, in token mode and in cookie mode.

Each device lists the user's sessions with its own marked "this device"; one device ends
the other, which is logged out on its next request; "log out everywhere" ends both. A
client label is attacker-controlled (anyone who knows the password names their login):
the page shows it as text, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Demo, request, running_demo

COOKIE = "__Host-restauth"
LABEL_ATTACK = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(params=["token", "cookie"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Demo]:
    """A fresh demo per test (no sessions left by another), in either mode."""
    extra = ("--cookie",) if request.param == "cookie" else ()
    with running_demo(tmp_path, *extra) as started:
        yield started


@pytest.fixture
def devices(browser: Any) -> Iterator[list[Any]]:
    """Browser contexts, each a device of its own; closed at the end."""
    contexts: list[Any] = []
    yield contexts
    for context in contexts:
        context.close()


def device(devices: list[Any], browser: Any, demo: Demo, client: str = "") -> Any:
    """A new device (browser context) whose page logged in as bob with the label ``client``
    (empty: the page's own, derived from the User-Agent)."""
    context = browser.new_context(viewport={"width": 900, "height": 900})
    devices.append(context)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(demo.url + "/")
    page.fill("#username", "bob")
    page.fill("#password", demo.passwords["bob"])
    page.fill("#client", client)
    page.click("#login-button")
    page.wait_for_selector("#who:has-text('bob')")
    page.wait_for_selector("#sessions li")
    return page


def listed(page: Any, count: int) -> list[dict[str, Any]]:
    """The sessions the page lists, once it lists ``count`` of them (after a refresh)."""
    page.click("#sessions-refresh")  # marks the list busy until the answer is shown
    page.wait_for_selector("#sessions[aria-busy='false']", state="attached")
    shown(page, count)
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#sessions li",
        """rows => rows.map((row) => ({
            id: row.dataset.session,
            client: row.querySelector('.client').textContent,
            current: row.querySelector('.badge')?.textContent ?? null,
            end: row.querySelector('button.end') !== null,
            times: row.querySelectorAll('time').length,
        }))""",
    )
    return rows


def shown(page: Any, count: int) -> None:
    """Wait until the page lists ``count`` sessions (a function, not a string: the page's
    Content-Security-Policy forbids evaluating strings)."""
    page.wait_for_function(
        "(count) => document.querySelectorAll('#sessions li').length === count", arg=count
    )


def credential(page: Any) -> dict[str, str]:
    """The headers that carry this device's token: its Bearer token or its cookie."""
    token = page.evaluate("sessionStorage.getItem('restauth.token')")
    if token:
        return {"Authorization": f"Bearer {token}"}
    cookies = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(cookies) == 1
    return {"Cookie": f"{COOKIE}={cookies[0]['value']}"}


def status(demo: Demo, headers: dict[str, str]) -> int:
    return request(demo.server.port, "GET", "/api/notes", headers).status


def logged_out_on_next_request(page: Any) -> None:
    page.click("#sessions-refresh")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.is_hidden("#app-view")
    assert page.evaluate("sessionStorage.length") == 0


def test_two_devices_end_one_then_log_out_everywhere(
    browser: Any, demo: Demo, devices: list[Any]
) -> None:
    laptop = device(devices, browser, demo, "laptop")
    phone = device(devices, browser, demo)  # labelled by the page from its User-Agent
    default_label = phone.evaluate("deviceLabel()")
    assert default_label.startswith("Chrome")

    on_laptop, on_phone = listed(laptop, 2), listed(phone, 2)
    assert {row["id"] for row in on_laptop} == {row["id"] for row in on_phone}
    by_client = {row["client"]: row for row in on_laptop}
    assert set(by_client) == {"laptop", default_label}
    assert by_client["laptop"]["current"] == "this device"
    assert not by_client["laptop"]["end"]  # this device logs out with its own button
    assert by_client[default_label]["current"] is None
    assert by_client[default_label]["end"]
    assert all(row["times"] == 3 for row in on_laptop)  # created, last used, valid until
    mine = {row["client"]: row["current"] for row in on_phone}
    assert mine == {"laptop": None, default_label: "this device"}

    phone_credential = credential(phone)
    laptop.click(f"#sessions li[data-session='{by_client[default_label]['id']}'] button.end")
    shown(laptop, 1)
    assert [row["client"] for row in listed(laptop, 1)] == ["laptop"]
    assert status(demo, phone_credential) == 401
    assert status(demo, credential(laptop)) == 200
    logged_out_on_next_request(phone)
    assert phone.is_visible("#login-error:has-text('ended')")

    phone = device(devices, browser, demo, "phone again")
    assert len(listed(laptop, 2)) == 2
    credentials = [credential(laptop), credential(phone)]
    laptop.click("#logout-all-button")
    laptop.wait_for_selector("#login-view:not([hidden])")
    assert laptop.evaluate("sessionStorage.length") == 0
    assert laptop.context.cookies() == []  # cookie mode: the deletion was honoured
    assert [status(demo, headers) for headers in credentials] == [401, 401]
    logged_out_on_next_request(phone)
    assert laptop.dialogs == []
    assert phone.dialogs == []


def test_log_out_this_device_leaves_the_other(browser: Any, demo: Demo, devices: list[Any]) -> None:
    laptop = device(devices, browser, demo, "laptop")
    phone = device(devices, browser, demo, "phone")
    laptop_credential = credential(laptop)
    laptop.click("#logout-button")
    laptop.wait_for_selector("#login-view:not([hidden])")
    assert status(demo, laptop_credential) == 401
    rows = listed(phone, 1)
    assert [(row["client"], row["current"]) for row in rows] == [("phone", "this device")]


def test_a_client_label_is_shown_as_text(browser: Any, demo: Demo, devices: list[Any]) -> None:
    laptop = device(devices, browser, demo, "laptop")
    attacker = device(devices, browser, demo, LABEL_ATTACK)
    for page in (laptop, attacker):
        rows = listed(page, 2)
        assert LABEL_ATTACK in [row["client"] for row in rows]
        assert page.locator("#sessions img").count() == 0
        assert page.title() == "restauth demo"
