"""Catalog events other apps listen to, so catalog never imports them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after the transaction that made a swath VERIFIED has committed, with
# `swath_id`. Standing regional orders (subset/) hang off it.
swath_verified = Signal()

# Sent by catalog.bulkload.register_manifest as a load starts, outside any transaction.
# A receiver may return a follower: an object with `loaded(ids)`, called after each
# batch of rows has committed, and `finish()`, called once at the end, however the
# load ends. When any receiver returns one, each batch's transaction sets
# `swathstore.bulk_load` to 'on', telling the database's triggers that work derived
# from the rows (api/'s stored STAC Items) may be left to the followers: they run
# beside the next batch's COPY instead of inside it.
bulk_load_started = Signal()
