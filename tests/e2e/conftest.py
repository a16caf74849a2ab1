"""Real-browser fixtures: the test app served on localhost, driven in Debian's Chromium by Playwright."""

import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

#: Debian's build; Playwright's own browser download cannot reach its host from here or from CI.
CHROMIUM = Path("/usr/bin/chromium")
#: Root in a container needs --no-sandbox; the rest keep Chromium off a network it cannot reach.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def live_server(app):
    """The session's app on a free localhost port; each request runs on a thread with its own app context."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); .ci/run installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_errors():
    """What went wrong in the page: console errors (a Content-Security-Policy violation shows up
    there), uncaught exceptions, and responses of 400 or more as "<status> <url>"."""
    return []


def _console_error(errors: list, message) -> None:
    # "Failed to load resource" names no URL; the response listener records it with one.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


@pytest.fixture
def page(browser, live_server, browser_errors):
    """A fresh tab with no cookies, its relative URLs resolved against the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("console", lambda message: _console_error(browser_errors, message))
    page.on("pageerror", lambda error: browser_errors.append(str(error)))
    page.on("response", lambda response: browser_errors.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot to tests/e2e/artifacts/<name>.png and return its path."""

    def save(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
