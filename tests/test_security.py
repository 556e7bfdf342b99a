"""Security: every write route of the whole URL resolver needs credentials (M6), the
deployment checks hold (M7), and no secret reaches logs or broker payloads (X1, X2).

tests/api/test_auth_and_limits.py walks /api/v1/ and /stac/ with an authenticated user
too; this walks every route (admin, web, subsets included) anonymously, so a new
route anywhere cannot ship writable by anyone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.conftest import REPO
from tests.faults.conftest import fault_workers, private_redis  # noqa: F401 - fixtures
from tests.support.routes import all_routes

WRITES = ["post", "put", "patch", "delete"]
# Writes that need no credentials by design, each with its reason.
OPEN_WRITES = {
    ("post", "/login/"): "the login form itself",
    ("post", "/logout/"): "ends the caller's own session",
    ("post", "/admin/login/"): "the admin login form",
    ("post", "/admin/logout/"): "ends the caller's own session",
    ("post", "/stac/search"): "a search: POST carries the query (STAC API)",
    ("post", "/api/v1/swaths/search/"): "a search: POST carries the query",
    ("post", "/stac/search/export"): "a search's export: POST carries the query",
    ("post", "/api/v1/swaths/export"): "a search's export: POST carries the query",
    ("post", "/stac/aggregate"): "an aggregation: POST carries the query (STAC API)",
    ("post", "/stac/aggregations"): "lists the aggregations (STAC API)",
    ("post", "/stac/collections/x/aggregate"): "an aggregation: POST carries the query",
    ("post", "/stac/collections/x/aggregations"): "lists the aggregations",
}
SAMPLES = {"uuid": "00000000-0000-0000-0000-000000000001", "slug": "x", "pk": "1",
           "collection_id": "x", "item_id": "x", "object_id": "1", "app_label": "catalog",
           "content_type_id": "1", "url": "x", "id": "1"}



def clean_environ() -> dict[str, str]:
    """This process's environment without what other fixtures set for themselves
    (the browser tests allow Django's async-unsafe calls in their own process)."""
    return {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}

def every_route() -> list[str]:
    """Every URL pattern of the project with sample arguments, format suffixes left out."""
    out = set()
    for route in all_routes():
        if "format" in route or "(?:" in route:
            continue
        url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLES.get(m.group(1), "1"), route)
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLES.get(m.group(1), "1"), url)
        url = url.replace("\\", "").replace("^", "").replace("$", "")
        if re.search(r"[()\[\]*+?]", url):
            continue  # a regex we cannot fill: listed below so it is not silently skipped
        out.add(url)
    return sorted(out)


@pytest.mark.django_db
def test_every_write_route_answers_401_or_403_without_credentials() -> None:
    routes = every_route()
    assert len(routes) > 30 and "/api/v1/subsets/" in routes
    client = APIClient(enforce_csrf_checks=True)
    failures = []
    for url in routes:
        for method in WRITES:
            if (method, url) in OPEN_WRITES:
                continue
            response = getattr(client, method)(url, {}, format="json")
            status = response.status_code
            if url.startswith("/admin/") and status == 302:
                ok = "/admin/login/" in response["Location"]  # staff login first
            else:
                ok = status in (401, 403, 405)
            if not ok:
                failures.append(f"{method.upper()} {url} -> {status}")
    assert failures == [], "writable without credentials:\n" + "\n".join(failures)


def test_default_permissions_are_not_allow_any(settings) -> None:
    classes = settings.REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]
    assert all("AllowAny" not in c for c in classes)


PRODUCTION_ENV = {
    "SWATHSTORE_PRODUCTION": "1",
    "SECRET_KEY": "x" * 20 + "SENTINELsecretkey" + "y" * 20,
    "DATABASE_URL": "postgis://postgres@127.0.0.1:5432/swathstore",
    "STORE_URL": "s3://swathstore-prod",
    "AWS_ACCESS_KEY_ID": "check-deploy-placeholder",
    "AWS_SECRET_ACCESS_KEY": "check-deploy-placeholder",
    "ALLOWED_HOSTS": "archive.example.org",
}


def test_deploy_checks_report_no_warning(tmp_path: Path) -> None:
    """M7, as `make check-deploy` runs it: no warning of any kind (Django's security.*
    checks, the API schema's drf_spectacular.* ones), or it is silenced with a reason."""
    env = {**clean_environ(), **PRODUCTION_ENV, "VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                           "--fail-level", "WARNING"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.findall(r"\(security\.\w+\)", output) == [], output


def test_production_settings_keep_botocore_quiet(tmp_path: Path) -> None:
    env = {**clean_environ(), **PRODUCTION_ENV, "VAR_DIR": str(tmp_path), "LOG_LEVEL": "DEBUG"}
    code = ("import django, logging; django.setup(); "
            "print(logging.getLogger('botocore').getEffectiveLevel())")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60,
                          env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"})
    assert done.stdout.strip() == str(30), done.stderr  # WARNING even at LOG_LEVEL=DEBUG


# -- X1, X2 ------------------------------------------------------------------------------


def _broker_dump(redis_client: object) -> bytes:
    """Every key and value in the broker: lists, hashes, sets, sorted sets, strings."""
    out = []
    for key in redis_client.keys("*"):
        kind = redis_client.type(key)
        out.append(key)
        if kind == b"list":
            out.extend(redis_client.lrange(key, 0, -1))
        elif kind == b"hash":
            for k, v in redis_client.hgetall(key).items():
                out.extend([k, v])
        elif kind == b"set":
            out.extend(redis_client.smembers(key))
        elif kind == b"zset":
            out.extend(redis_client.zrange(key, 0, -1))
        elif kind == b"string":
            out.append(redis_client.get(key) or b"")
    return b"\n".join(out)


@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_x1_x2_no_secret_in_logs_or_broker_payloads(private_redis, fault_workers, rclone_s3,  # noqa: F811
                                                    shared_swaths: Path, tmp_path: Path,
                                                    caplog) -> None:
    """An ingest through a real worker at LOG_LEVEL=DEBUG with sentinel secrets: the S3
    secret key, SECRET_KEY and a database password never appear in the worker's log, the
    test process's log or any Redis key, whether the ingest succeeds or fails."""
    from catalog.models import Swath
    from ingest.tasks import ingest_file_task
    from tests.conftest import _test_database_url
    from tests.faults.helpers import collection, wait_until

    db_secret = "SENTINELdbPassw0rd7"
    django_secret = "SENTINEL-django-secret-" + "k" * 40
    sentinels = [rclone_s3.secret_key, db_secret, django_secret]
    db_url = _test_database_url().replace("postgres@", f"postgres:{db_secret}@", 1)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy2(shared_swaths / "GPM_test_file.HDF5", src / "good.HDF5")
    (src / "broken.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 2000)
    coll = collection("secrets")
    worker = fault_workers(private_redis.url, concurrency=1, ready=False, LOG_LEVEL="DEBUG",
                           DATABASE_URL=db_url, SECRET_KEY=django_secret)
    for path in sorted(src.iterdir()):
        ingest_file_task.delay(str(path), coll.pk, "auto", None, "single")
    queued = _broker_dump(private_redis.client())  # the messages, before any worker ran
    assert b"ingest_file_task" in queued
    worker.start()
    wait_until(lambda: Swath.objects.filter(state__in=["VERIFIED", "FAILED"]).count() == 2,
               90, what="both ingests to end")
    time.sleep(1)
    assert Swath.objects.get(granule_id="good.HDF5").state == "VERIFIED"
    assert Swath.objects.get(granule_id="broken.nc").state == "FAILED"
    after = _broker_dump(private_redis.client())
    logs = worker.log.read_bytes() + caplog.text.encode()
    assert b"DEBUG" in worker.log.read_bytes(), "the worker logged at DEBUG"
    found = {s[:12] + "...": [where for where, blob in
                              (("worker log", logs), ("queued", queued), ("broker", after))
                              if s.encode() in blob] for s in sentinels}
    print(f"X1/X2: sentinel hits {found}; worker log {len(logs)} bytes")
    assert all(not hits for hits in found.values()), found


# -- response headers, the docs page, sign-in lockout (issue 25) -------------------------

PAGES = ["/", "/login/", "/api/docs/", "/admin/login/", "/api/v1/", "/api/v1/swaths/"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


def csp(response: object) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources}."""
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";"))


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_csp_that_runs_only_our_own_scripts(path: str) -> None:
    response = APIClient().get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, path
    policy = csp(response)
    assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'self'"
    html = response.content.decode()
    assert INLINE_SCRIPT.findall(html) == [], path  # no script but our files
    assert "cdn." not in html and "@latest" not in html


@pytest.mark.django_db
def test_the_map_and_sign_in_pages_allow_no_inline_style_and_images_from_the_tile_server(
        settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEB_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    for path in ("/", "/login/", "/admin/login/"):
        policy = csp(APIClient().get(path))
        assert policy["style-src"] == "'self'", path
        assert policy["img-src"] == "'self' data: https://*.tiles.example.org", path


@pytest.mark.django_db
def test_api_docs_load_swagger_ui_from_our_own_static_files() -> None:
    from django.contrib.staticfiles import finders

    client = APIClient()
    html = client.get("/api/docs/").content.decode()
    srcs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in srcs
    assert "/static/vendor/swagger-ui/swagger-ui.css" in srcs
    assert all(s.startswith("/") and not s.startswith("//") for s in srcs), srcs
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"vendor/swagger-ui/{name}"), f"{name}: run web/build.sh"
    (init,) = [s for s in srcs if "script" in s]
    script = client.get(init)
    assert script.status_code == 200 and script["Content-Type"].startswith(
        "application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


# CORS: reads from anywhere, writes from nowhere, never credentials.
ORIGIN = "https://stac-browser.example.org"


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", [("get", "/stac/search"), ("post", "/stac/search"),
                                          ("get", "/api/v1/swaths/"),
                                          ("get", "/api/v1/collections/"),
                                          ("head", "/stac/"), ("get", "/api/v1/subsets/1")])
def test_reads_are_readable_from_any_origin_without_credentials(method: str, path: str) -> None:
    response = getattr(APIClient(), method)(path, HTTP_ORIGIN=ORIGIN, format="json")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    assert "ETag" in response["Access-Control-Expose-Headers"]
    assert "Content-Range" in response["Access-Control-Expose-Headers"]


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", [("GET", "/api/v1/swaths/"), ("POST", "/stac/search"),
                                          ("HEAD", "/stac/collections")])
def test_a_preflight_for_a_read_is_allowed(method: str, path: str) -> None:
    response = APIClient().options(path, HTTP_ORIGIN=ORIGIN,
                                   HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                                   HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert method in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", [("POST", "/api/v1/subsets/"),
                                          ("DELETE", "/api/v1/swaths/x/"),
                                          ("PUT", "/api/v1/collections/x/"),
                                          ("PATCH", "/stac/search")])
def test_writes_are_allowed_from_no_origin(method: str, path: str) -> None:
    preflight = APIClient().options(path, HTTP_ORIGIN=ORIGIN,
                                    HTTP_ACCESS_CONTROL_REQUEST_METHOD=method)
    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Methods" not in preflight
    user = APIClient()
    user.force_authenticate(User.objects.create_user("writer"))
    sent = getattr(user, method.lower())(path, {}, HTTP_ORIGIN=ORIGIN, format="json")
    assert "Access-Control-Allow-Origin" not in sent  # its answer is unreadable there too


# Sign-in lockout: guessing passwords stops working after LOGIN_FAILURE_LIMIT tries.
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only


def sign_in(path: str, password: str, address: str = "192.0.2.10") -> object:
    from django.test import Client

    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": "scientist", "password": password})
    response.signed_in = "_auth_user_id" in client.session  # type: ignore[attr-defined]
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_twelve_wrong_passwords_then_the_right_one_does_not_sign_in(path: str,
                                                                   settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = FAST_HASHER
    User.objects.create_user("scientist", password="correct horse", is_staff=True)
    for _ in range(12):
        assert not sign_in(path, "wrong").signed_in  # type: ignore[attr-defined]
    locked = sign_in(path, "correct horse")
    assert not locked.signed_in  # type: ignore[attr-defined]
    assert "Too many failed sign-ins" in locked.content.decode()
    if path == "/login/":
        assert locked.status_code == 429
    # The lockout is per user name and address: the user still signs in from elsewhere.
    assert sign_in(path, "correct horse", address="198.51.100.7").signed_in  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_lockout_ends_and_a_success_forgets_earlier_failures(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = FAST_HASHER
    settings.LOGIN_LOCKOUT_S = 1
    User.objects.create_user("scientist", password="correct horse")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in("/login/", "wrong")
    assert not sign_in("/login/", "correct horse").signed_in  # type: ignore[attr-defined]
    time.sleep(1.1)
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        sign_in("/login/", "wrong")
    assert sign_in("/login/", "correct horse").signed_in  # type: ignore[attr-defined]
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):  # counted afresh after the success
        sign_in("/login/", "wrong")
    assert sign_in("/login/", "correct horse").signed_in  # type: ignore[attr-defined]
