"""The map page's server side: the page, its configuration for the scripts, sign-in and out."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only


def page_config(client: Client) -> dict:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('<script id="page-config" type="application/json">') + 49
    return json.loads(html[start:html.index("</script>", start)])


def test_the_map_page_is_served_at_the_root_with_where_the_api_is() -> None:
    client = Client()
    config = page_config(client)
    assert config["api"] == "/api/v1/" and config["stac"] == "/stac/"
    assert config["subsets"] == "/api/v1/subsets/" and config["login"] == "/login/"
    assert config["user"] is None and config["tileUrl"] == ""
    html = client.get("/").content.decode()
    for asset in ("vendor/leaflet/leaflet.js", "vendor/leaflet-draw/leaflet.draw.js",
                  "web/js/main.js", "web/css/app.css"):
        assert f"/static/{asset}" in html
    assert "https://" not in html.split("<body")[0]  # nothing from a CDN


def test_the_tile_layer_url_comes_from_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEB_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert page_config(Client())["tileUrl"] == settings.WEB_TILE_URL


def test_signing_in_returns_to_the_search_in_the_fragment(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = FAST_HASHER
    User.objects.create_user("scientist", password="correct horse")
    client = Client()
    form = client.get("/login/", {"next": "/#bbox=10,-45,40,-30&swath=x"})
    assert form.status_code == 200
    assert 'value="/#bbox=10,-45,40,-30&amp;swath=x"' in form.content.decode()
    response = client.post("/login/", {"username": "scientist", "password": "correct horse",
                                       "next": "/#bbox=10,-45,40,-30&swath=x"})
    assert response.status_code == 302
    assert response["Location"] == "/#bbox=10,-45,40,-30&swath=x"
    assert page_config(client)["user"] == "scientist"


def test_a_wrong_password_is_said_so(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = FAST_HASHER
    User.objects.create_user("scientist", password="correct horse")
    response = Client().post("/login/", {"username": "scientist", "password": "wrong"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_a_next_to_another_site_is_not_followed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = FAST_HASHER
    User.objects.create_user("scientist", password="correct horse")
    response = Client().post("/login/", {"username": "scientist", "password": "correct horse",
                                         "next": "https://evil.example.org/"})
    assert response["Location"] == "/"


def test_signing_out_takes_a_post_and_returns_to_the_map() -> None:
    client = Client()
    client.force_login(User.objects.create_user("scientist"))
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert page_config(client)["user"] is None
