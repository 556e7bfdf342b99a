"""Sign-in lockout: after LOGIN_FAILURE_LIMIT failed sign-ins for one user name from one
address, that pair is refused for LOGIN_LOCKOUT_S, whatever the password.

It hooks Django's authentication itself, so /login/, /admin/login/ and anything else that
calls ``authenticate(request, ...)`` share it: ``LockoutBackend`` comes first in
AUTHENTICATION_BACKENDS and refuses a locked pair before any password is checked, and
the ``user_login_failed`` / ``user_logged_in`` signals count and clear failures. The
counts live in the "login" cache (Redis with CACHE_URL; otherwise files under VAR_DIR,
which every process of one machine shares). Keyed by user name and address, an attacker
cannot lock a user out from elsewhere; the address is the client's as DRF's throttles
see it (NUM_PROXIES).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

CACHE = "login"


def limit() -> int:
    """Failed sign-ins allowed for one user name and address before the lockout."""
    return int(settings.LOGIN_FAILURE_LIMIT)


def lockout_seconds() -> int:
    """How long a locked pair stays locked (and how long failures are remembered)."""
    return int(settings.LOGIN_LOCKOUT_S)


def _key(kind: str, request: HttpRequest | None, username: str | None) -> str:
    address = BaseThrottle().get_ident(request) if request is not None else ""
    pair = f"{(username or '').casefold()}\0{address}".encode()
    return f"login-{kind}:{hashlib.sha256(pair).hexdigest()}"


def is_locked(request: HttpRequest | None, username: str | None) -> bool:
    """True while this user name may not sign in from this address."""
    return bool(caches[CACHE].get(_key("locked", request, username)))


def record_failure(request: HttpRequest | None, username: str | None) -> None:
    """Count one failed sign-in; the limit-th locks the pair for LOGIN_LOCKOUT_S."""
    cache = caches[CACHE]
    key = _key("failures", request, username)
    # get + set, not incr: the file cache's incr would drop the timeout. Two failures
    # ending within the same instant may count once; each costs a password hash anyway.
    failures = int(cache.get(key) or 0) + 1
    cache.set(key, failures, lockout_seconds())
    if failures >= limit():
        cache.set(_key("locked", request, username), True, lockout_seconds())


def clear(request: HttpRequest | None, username: str | None) -> None:
    """Forget failures of a pair (a successful sign-in)."""
    caches[CACHE].delete(_key("failures", request, username))


class LockoutBackend:
    """First authentication backend: refuses a locked pair; authenticates no one itself.

    It has no ``get_user``, so sessions and ``force_login`` keep using ModelBackend.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     **credentials: Any) -> None:
        if username is None:
            username = credentials.get(get_user_model().USERNAME_FIELD)
        if is_locked(request, username):
            raise PermissionDenied("too many failed sign-ins")  # stops every backend
        return None


@receiver(user_login_failed, dispatch_uid="web-lockout-failed")
def _failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
            **kwargs: Any) -> None:
    record_failure(request, credentials.get("username"))


@receiver(user_logged_in, dispatch_uid="web-lockout-cleared")
def _signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    clear(request, user.get_username())


def locked_message() -> str:
    minutes = max(1, round(lockout_seconds() / 60))
    return (f"Too many failed sign-ins for this user name from your address: try again "
            f"in {minutes} minute{'s' if minutes != 1 else ''}.")


class LockoutMixin:
    """Says so when the pair is locked, instead of 'wrong password'."""

    def clean(self) -> dict[str, Any]:
        username = self.data.get("username")  # type: ignore[attr-defined]
        if username and is_locked(self.request, username):  # type: ignore[attr-defined]
            raise ValidationError(locked_message(), code="locked")
        return super().clean()  # type: ignore[misc]


class LockoutAuthenticationForm(LockoutMixin, AuthenticationForm):
    """The map's sign-in form."""


class LockoutAdminAuthenticationForm(LockoutMixin, AdminAuthenticationForm):
    """The admin's sign-in form."""
