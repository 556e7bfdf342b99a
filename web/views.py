"""The map page at / and its sign-in; everything on the page comes from the API over HTTP."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from web.lockout import LockoutAuthenticationForm


def page_config(request: HttpRequest) -> dict[str, object]:
    """Return what the page's scripts need to find the API and who is signed in."""
    user = request.user
    return {
        "api": reverse("api:api-root"),
        "stac": reverse("stac:landing"),
        "subsets": reverse("subset:list"),
        "login": reverse("web:login"),
        "logout": reverse("web:logout"),
        "tileUrl": settings.WEB_TILE_URL,
        "user": user.get_username() if user.is_authenticated else None,
        "csrfToken": get_token(request),
    }


def home(request: HttpRequest) -> HttpResponse:
    """The map page: search, results, details and subsets, all through the API."""
    return render(request, "web/index.html", {"config": page_config(request)})


class LoginView(auth_views.LoginView):
    """Sign in with a catalog user, so the page may ask for subsets (writes need a user).

    Failed sign-ins lock a user name out from one address for a while (web.lockout);
    a locked attempt answers 429 with a message saying so.
    """

    template_name = "web/login.html"
    authentication_form = LockoutAuthenticationForm
    redirect_authenticated_user = True
    next_page = "/"  # where an absent or unsafe ?next= leads

    def form_invalid(self, form: LockoutAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "locked"):
            response.status_code = 429
        return response


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires) and return to the map."""

    next_page = "/"
