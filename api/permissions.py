"""Who may do what: reads public unless API_PUBLIC_READS=0, every write needs a user."""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class PublicReads(BasePermission):
    """Reads (and POST on views marked `post_is_read`, such as STAC search) are public
    when settings.API_PUBLIC_READS; anything else needs an authenticated user."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        authenticated = bool(request.user and request.user.is_authenticated)
        is_read = request.method in SAFE_METHODS or (
            request.method == "POST" and getattr(view, "post_is_read", False))
        if is_read:
            return settings.API_PUBLIC_READS or authenticated
        return authenticated


class IsOwnerOrStaff(PublicReads):
    """Object-level: writes to an object are for its owner or staff.

    The owner is the object's `owner_id`, or the attribute the view names in
    `owner_field`; an object without one (a shared region) is staff's alone. A view may
    name its refusal in `owner_message`.
    """

    message = "only its owner or staff may change it"

    def has_object_permission(self, request: Request, view: APIView, obj: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        owner = getattr(obj, getattr(view, "owner_field", "owner_id"), None)
        # An instance per request (DRF's get_permissions), so setting it here is safe.
        self.message = getattr(view, "owner_message", self.message)
        return bool(user and (user.is_staff or (owner is not None and owner == user.pk)))
