"""Objects kept beside a swath: quicklooks and chunk indexes, and which of them the
catalog still names.

They live outside ``swaths/`` (archive.keys), each recorded in its swath's attrs
("quicklook", "chunk_index": store and key), and a new one replaces the old under a
fresh key. One that no record names is an orphan: its swath's row is gone (an ingest
rolled back, a catalog rebuilt without it), the delete of a replaced one failed, or a
crash fell between the put and the record. Nothing else would ever delete it, so fsck
reports it and reconcile deletes it once it is older than the grace period (a record
may still be on its way for a younger one).
"""

from __future__ import annotations

from catalog.models import Swath

# Key prefix -> the attrs entry that records an object under it.
DERIVED = {"quicklooks/": "quicklook", "indexes/": "chunk_index"}


def recorded_keys(store_name: str) -> set[str]:
    """Keys of the quicklooks and chunk indexes that swaths' records name in a store."""
    keys: set[str] = set()
    for entry in DERIVED.values():
        rows = Swath.objects.filter(attrs__has_key=entry).values_list(
            f"attrs__{entry}__store", f"attrs__{entry}__key")
        keys.update(key for store, key in rows.iterator(chunk_size=5000)
                    if key and (store or "primary") == store_name)
    return keys
