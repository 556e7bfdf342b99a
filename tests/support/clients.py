"""API clients of new users, each signed in with a token of its own."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_of(name: str, **flags: bool) -> APIClient:
    """An API client with the token of a new user ``name`` (``is_staff=True`` and the like)."""
    token = Token.objects.create(user=User.objects.create_user(name, **flags))
    return APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
