"""Replication policies against the configured stores, and the codec and policy an ingest uses.

One place for the rules the system checks (catalog/checks.py), ingest and
`archive replicate` share: which stores a policy names (settings.ARCHIVE_POLICIES), why
it cannot be met here, and how an explicit option, a collection's defaults and the
site-wide INGEST_CODEC / INGEST_POLICY combine.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from catalog.models import Codec, Collection, Policy

# Copies each policy keeps, each in a store of its own.
COPIES = {Policy.SINGLE.value: 1, Policy.REPLICATE.value: 2, Policy.COPY3.value: 3}


def stores_of(policy: str) -> list[str]:
    """Return the store names ``policy`` copies to, ``primary`` first; ValueError if unknown."""
    if policy not in COPIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(COPIES)}")
    return list(settings.ARCHIVE_POLICIES.get(policy, []))


def policy_problem(policy: str, label: str = "") -> str:
    """Return why ``policy`` cannot be met with the configured stores, or '' when it can.

    The reason starts with ``label`` (default "policy NAME").
    """
    label = label or f"policy {policy}"
    names = stores_of(policy)
    missing = [n for n in names if n not in settings.ARCHIVE_STORES]
    if missing:
        return (f"{label} names store{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} that neither STORE_URL nor STORES configures "
                f"(configured: {', '.join(settings.ARCHIVE_STORES)})")
    need = COPIES[policy]
    if len(set(names)) < need <= len(settings.ARCHIVE_STORES):
        return f"{label} needs {need} stores but names {len(set(names))} ({', '.join(names)})"
    if len(set(names)) < need:
        return (f"{label} needs {need} stores; {len(settings.ARCHIVE_STORES)} "
                f"configured ({', '.join(settings.ARCHIVE_STORES)}): add more with STORES")
    return ""


@dataclass(frozen=True)
class IngestChoice:
    """The codec and policy an ingest of one collection uses, and where each came from."""

    codec: str
    policy: str
    codec_from: str
    policy_from: str


def ingest_choice(collection: Collection | int, codec: str | None = None,
                  policy: str | None = None) -> IngestChoice:
    """Return the codec and policy for files of ``collection``.

    An explicit ``codec``/``policy`` wins. Otherwise the policy is the collection's
    default_policy or INGEST_POLICY, whichever keeps more copies: INGEST_POLICY is the
    site's floor, so the default "single" of a collection never drops copies a site asked
    for. The codec is the collection's default_codec, except that "auto" (the field's
    default) leaves the choice to INGEST_CODEC.
    """
    if isinstance(collection, int):
        row = Collection.objects.filter(pk=collection).values(
            "slug", "default_codec", "default_policy").get()
    else:
        row = {"slug": collection.slug, "default_codec": collection.default_codec,
               "default_policy": collection.default_policy}
    slug = row["slug"]
    if policy is not None:
        policy_from = "--policy"
    elif COPIES[row["default_policy"]] >= COPIES[settings.INGEST_DEFAULT_POLICY]:
        policy, policy_from = row["default_policy"], f"collection {slug}"
    else:
        policy, policy_from = settings.INGEST_DEFAULT_POLICY, "INGEST_POLICY"
    if codec is not None:
        codec_from = "--codec"
    elif row["default_codec"] != Codec.AUTO:
        codec, codec_from = row["default_codec"], f"collection {slug}"
    else:
        codec, codec_from = settings.INGEST_DEFAULT_CODEC, "INGEST_CODEC"
    return IngestChoice(codec=codec, policy=policy, codec_from=codec_from,
                        policy_from=policy_from)
