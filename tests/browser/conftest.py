"""Real-browser fixtures: one live app for the whole session, Debian's Chromium, artifacts.

The app is built like tests/conftest.py's `app` fixture (a copy of the session's template
instance with the test accounts) but served for real from a thread, so Chromium can reach it.
Without Chromium the tests skip, unless TELLER_GUARD_REQUIRE_BROWSER=1 (CI) makes that a failure.
Playwright never downloads a browser here: we always launch an existing executable.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from teller_guard import create_app

from .flow import ARTIFACTS

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-default-apps", "--disable-extensions", "--disable-sync",
    "--no-first-run", "--mute-audio", "--font-render-hinting=none",
]
VIEWPORT = {"width": 1366, "height": 768}


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        reason = (f"Chromium not found at {path} (apt-get install chromium fonts-wqy-microhei, "
                  "or set CHROMIUM_PATH)")
        if os.environ.get("TELLER_GUARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; TELLER_GUARD_REQUIRE_BROWSER=1 makes this a failure")
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, template_instance):
    instance = tmp_path_factory.mktemp("live") / "instance"
    shutil.copytree(template_instance, instance)
    from conftest import TEST_CONFIG  # tests/conftest.py

    return create_app(TEST_CONFIG, instance_path=instance)


@pytest.fixture(scope="session")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai"}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(page):
    page.set_default_timeout(5000)
    page.set_default_navigation_timeout(5000)
    return page
