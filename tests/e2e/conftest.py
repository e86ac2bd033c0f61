"""Browser end-to-end fixtures: Debian's Chromium driven by Playwright, the demo as a subprocess.

Without Chromium (a laptop) these tests skip, unless RESTAUTH_REQUIRE_SERVICES=1 (CI),
where a missing browser is a failure. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("RESTAUTH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (RESTAUTH_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@dataclass
class Demo:
    url: str
    passwords: dict[str, str]
    data_dir: Path | None = None  # the temporary directory the demo says it keeps data in


def start_demo(*extra: str) -> Iterator[Demo]:
    process = subprocess.Popen(
        [sys.executable, "-m", "restauth.demo", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", process.stdout.readline())
        users = process.stdout.readline()
        data = re.search(r"^data: (.+)/restauth-demo\.db ", process.stdout.readline())
        assert url, "the demo did not print its address"
        passwords = dict(re.findall(r"(\w+) \([^)]*\) password (\S+?)(?:;|$)", users.strip()))
        yield Demo(url.group(1), passwords, Path(data.group(1)) if data else None)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
