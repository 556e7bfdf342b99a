from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"

    def ready(self) -> None:
        """Connect the sign-in lockout's signals; the admin's form says when it applies."""
        from django.contrib import admin

        from web import lockout

        admin.site.login_form = lockout.LockoutAdminAuthenticationForm
