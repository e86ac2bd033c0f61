"""What the e2e demo runs leave behind: nothing in /tmp, and no 401 in the browser's log.

A terminated demo used to leave ``/tmp/restauth-demo-*`` with its ``secret.key``; and the
browser's automatic ``/favicon.ico`` request was refused with a 401 on every page load.
The directory is checked by name (the demo prints it), not by counting ``/tmp``: other
test runs may start demos at the same time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.servers import running_demo


def test_a_terminated_demo_leaves_no_directory(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:  # ends with SIGTERM, as the browser tests' fixtures
        assert demo.data_dir is not None
        assert demo.data_dir.name.startswith("restauth-demo-")
        assert (demo.data_dir / "secret.key").exists()
    assert not demo.data_dir.exists()


def test_a_page_load_logs_no_401(browser: Any, tmp_path: Path) -> None:
    statuses: dict[str, int] = {}
    with running_demo(tmp_path) as demo:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.on(
                "response", lambda response: statuses.__setitem__(response.url, response.status)
            )
            page.goto(demo.url + "/")
            page.wait_for_selector("#login-view")
            # Headless Chromium may not ask for the icon by itself: ask as a tab would.
            icon = page.request.get(demo.url + "/favicon.ico")
        finally:
            context.close()
    assert icon.status == 204
    assert [url for url, status in statuses.items() if status == 401] == []
