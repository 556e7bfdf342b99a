"""Catalog events other apps listen to, so catalog never imports them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after the transaction that made a swath VERIFIED has committed, with
# `swath_id`. Standing regional orders (subset/) hang off it.
swath_verified = Signal()
