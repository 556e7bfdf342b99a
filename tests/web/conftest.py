"""Fixtures for the map page: a live server with its static files, and headless Chromium.

The server is gunicorn on a free loopback port against the PostGIS test database, with
`collectstatic` run into its own VAR_DIR (web/build.sh vendors Leaflet first if needed).
Tests that put rows in the catalog use `transactional_db`, so the server sees them.
Chromium is Debian's (/usr/bin/chromium), driven by Python playwright; screenshots go to
test-output/web/ at the top of the repository.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings

from catalog.models import Collection, Swath
from tests.conftest import REPO
from tests.support.liveserver import LiveServer, live_server, wait_until_idle
from tests.web import rows

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
]
VENDOR = REPO / "web" / "static" / "vendor"
SHOTS = REPO / "test-output" / "web"
START = datetime(2024, 1, 1, tzinfo=UTC)
N_GRANULES = 600  # 50 hours of 5-minute granules: more than one 500-swath page


def _vendored() -> None:
    """Make sure web/build.sh has vendored Leaflet and the base map (idempotent, fast)."""
    if all((VENDOR / name).is_file() for name in (
            "world/land-50m.geojson", "leaflet/leaflet.js", "swagger-ui/swagger-ui-bundle.js",
            "ol/ol.js", "proj4leaflet/proj4leaflet.js")):
        return
    done = subprocess.run(["bash", str(REPO / "web" / "build.sh")], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"web/build.sh failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def web_server(django_db_setup: None, django_db_blocker: object,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn serving config.wsgi, static files collected, on a free loopback port."""
    _vendored()
    # The test process's key, so sessions it makes (signed_in) are valid on the server.
    with live_server(tmp_path_factory.mktemp("live-web"), {"SECRET_KEY": settings.SECRET_KEY},
                     collect_static=True) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, so Django would
    # refuse ORM calls from the tests ("async context"); they are plain synchronous calls,
    # made while no coroutine runs: Django's documented escape hatch applies.
    patch = pytest.MonkeyPatch()
    patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        patch.undo()


@pytest.fixture
def page(browser: object, transactional_db: None) -> Iterator[object]:
    """A fresh page at 1280x800; the test fails if the page throws a JavaScript error or
    the Content-Security-Policy blocks anything (Chromium reports it on the console).

    It asks for `transactional_db` so that it is closed, and the server has finished the
    page's requests, before pytest-django empties the tables (see wait_until_idle).
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800},  # type: ignore[attr-defined]
                                  accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text
            else None)
    page.set_default_timeout(15_000)
    yield page
    context.close()
    wait_until_idle()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> object:
    """shot(page, "name") saves test-output/web/<test>-<name>.png and returns its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    test = request.node.name.removeprefix("test_")

    def take(page: object, name: str, full_page: bool = False) -> Path:
        path = SHOTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
        return path

    return take


@pytest.fixture
def signed_in(transactional_db: None) -> object:
    """signed_in(page, server, name) signs a new user in by session cookie, as force_login does.

    The sign-in form itself is tested with Django's client (tests/web/test_views.py):
    hashing a password at Django's 1,000,000 PBKDF2 rounds costs seconds per login here.
    """
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    def sign_in(page: object, server: LiveServer, name: str) -> User:
        user = User.objects.create_user(name)  # no password: an unusable one
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        page.context.add_cookies([{  # type: ignore[attr-defined]
            "name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
            "url": server.url}])
        return user

    return sign_in


@cache
def _granules() -> tuple[rows.Granule, ...]:
    return tuple(rows.granules(N_GRANULES, START))


@dataclass
class Archive:
    collection: Collection
    swaths: list[Swath]


@pytest.fixture
def archive_rows(transactional_db: None) -> Archive:
    """600 VERIFIED swath rows (2024-01-01 00:00 to 2024-01-03 02:00), committed."""
    coll = Collection.objects.create(slug="test-modis-aqua", title="Test MODIS Aqua L2",
                                     platform="Aqua", instrument="MODIS")
    return Archive(coll, rows.load(coll, list(_granules())))
