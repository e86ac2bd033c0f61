"""The README's *Single-page app on another origin* in Chromium (issue 18): its blocks run as
written, but for the ports (tests.test_readme.spa_example).

The API (``spa_api.py``, wsgiref) listens on ``http://127.0.0.1:API``; ``python3 -m
http.server PAGES`` serves ``spa.html``. Opened as ``http://localhost:PAGES/spa.html`` (the
allowed origin) the page reads a 401, logs in, reads ``Auth-Token`` from the response
headers, calls the API with it and logs out, with no challenge and no login dialog. Opened
as ``http://127.0.0.1:PAGES/spa.html`` (another origin, not listed) the same fetches reach
the server, which answers, and the browser hides every answer: ``fetch`` rejects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.servers import Server, environment, free_port, request, running, wait_until
from tests.test_readme import spa_example


@dataclass
class Example:
    api: int
    pages: int
    password: str
    server: Server  # the API's: its log holds wsgiref's line for every request answered

    def answered(self, method: str, path: str, status: str = r"\d{3}") -> int:
        """How many ``method path`` requests the API answered (with ``status``), by
        wsgiref's log lines (``"OPTIONS /tokens HTTP/1.1" 204 0``)."""
        line = f'"{method} {re.escape(path)} HTTP/1\\.[01]" {status} '
        return len(re.findall(line, self.server.log_text()))


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    directory = tmp_path_factory.mktemp("spa")
    api = free_port()
    pages = free_port()
    while pages == api:
        pages = free_port()
    spa = spa_example(directory, api, pages)
    env = environment({})
    with (
        running(spa.api_command, port=api, cwd=directory, env=env) as server,
        running(spa.page_command, port=pages, cwd=directory, env=env),
    ):
        yield Example(api, pages, spa.password, server)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.responses = []  # (url, status, headers) of every answer the page could read
    page.dialogs = []
    page.on(
        "response",
        lambda response: page.responses.append((response.url, response.status, response.headers)),
    )
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def entry(page: Any, number: int) -> str:
    """The page's log line ``number`` (from 1), once the page has written it."""
    return str(page.text_content(f"#log li:nth-child({number})"))


def test_the_page_on_the_allowed_origin(page: Any, example: Example) -> None:
    origin = f"http://localhost:{example.pages}"
    api = f"http://127.0.0.1:{example.api}"
    page.goto(f"{origin}/spa.html")

    page.click("#call")  # no token yet: the 401's status and body, read by the script
    status, _, problem = entry(page, 1).partition(" {")
    assert status == "GET /: 401"
    assert json.loads("{" + problem)["status"] == 401

    page.fill("#password", example.password)  # the user, alice, is filled in
    page.click("#login button")
    login = entry(page, 2)
    assert login.startswith("POST /tokens: 200 {")
    body = json.loads(login.removeprefix("POST /tokens: 200 "))
    assert (body["userid"], body["roles"]) == ("alice", ["user"])
    # What the script read from the Auth-Token response header (null if not exposed).
    assert entry(page, 3) == f"Auth-Token header: {body['token']}"
    token = page.evaluate("sessionStorage.getItem('token')")
    assert token == body["token"]

    page.click("#call")
    assert entry(page, 4) == 'GET /: 200 {"userid": "alice", "roles": ["user"]}'

    page.click("#logout")
    assert entry(page, 5) == "DELETE /tokens/alice: 204 "
    page.wait_for_function("sessionStorage.length === 0")
    assert request(example.api, "GET", "/", {"Authorization": f"Bearer {token}"}).status == 401
    assert page.locator("#log li").count() == 5

    answers = [answer for answer in page.responses if answer[0].startswith(api + "/")]
    assert [(url.removeprefix(api), status) for url, status, _ in answers] == [
        ("/", 401),
        ("/tokens", 200),
        ("/", 200),
        ("/tokens/alice", 204),
    ]
    for _, _, headers in answers:
        assert headers["access-control-allow-origin"] == origin
        assert "www-authenticate" not in headers  # No-Auth-Challenge: nothing to prompt for
    assert page.dialogs == []


def test_a_page_on_another_origin_is_blocked_by_the_browser(page: Any, example: Example) -> None:
    refused = f"http://127.0.0.1:{example.pages}"  # the same page, an origin not listed
    api = f"http://127.0.0.1:{example.api}"
    preflights = example.answered("OPTIONS", "/tokens", "204")
    logins = example.answered("POST", "/tokens")
    page.goto(f"{refused}/spa.html")

    page.fill("#password", example.password)
    page.click("#login button")
    assert entry(page, 1) == "POST /tokens: TypeError: Failed to fetch"
    # The server answered the preflight, without Access-Control-Allow-Origin: the browser
    # never sent the login itself.
    wait_until(
        lambda: example.answered("OPTIONS", "/tokens", "204") > preflights,
        example.server,
        "the preflight of the refused login",
    )
    assert example.answered("POST", "/tokens") == logins
    asked = {"Origin": refused, "Access-Control-Request-Method": "POST"}
    answer = request(example.api, "OPTIONS", "/tokens", asked)
    assert answer.status == 204
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert page.evaluate("sessionStorage.length") == 0

    # A simple GET needs no preflight: the app's path answers 401, the browser hides it.
    refusals = example.answered("GET", "/", "401")
    error = page.evaluate(
        """async (api) => {
            try { await fetch(api + "/"); return "no error"; }
            catch (error) { return `${error.name}: ${error.message}`; }
        }""",
        api,
    )
    assert error == "TypeError: Failed to fetch"
    wait_until(
        lambda: example.answered("GET", "/", "401") > refusals,
        example.server,
        "the refused origin's GET",
    )
    assert page.locator("#log li").count() == 1
    assert [url for url, _, _ in page.responses if url.startswith(api + "/")] == []
    assert page.dialogs == []
