"""System checks: refuse a broken configuration at start, naming the variable."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from archive.errors import SizeLimitExceeded
from archive.multipart import choose_part_size

SPATIAL_ENGINES = (
    "django.contrib.gis.db.backends.postgis",
    "django.contrib.gis.db.backends.spatialite",
)


@register(Tags.database)
def check_spatial_database(app_configs: object, **kwargs: object) -> list[Error]:
    """The catalog needs PostGIS or SpatiaLite."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine not in SPATIAL_ENGINES:
        return [Error(f"DATABASE_URL gives {engine}; use postgis:// or spatialite://",
                      id="swathstore.E001")]
    return []


@register()
def check_time_zone(app_configs: object, **kwargs: object) -> list[Error]:
    """Overpass times are UTC everywhere."""
    if settings.TIME_ZONE != "UTC" or not settings.USE_TZ:
        return [Error("TIME_ZONE must be 'UTC' with USE_TZ=True", id="swathstore.E002")]
    return []


@register()
def check_stores(app_configs: object, **kwargs: object) -> list[Error]:
    """Each store URL parses; a local store's directory can be created."""
    errors = []
    for name, url in settings.ARCHIVE_STORES.items():
        var = "STORE_URL" if name == "primary" else "STORES"
        parsed = urlparse(url)
        if parsed.scheme == "s3":
            if not parsed.netloc:
                errors.append(Error(f"{var}: {url!r} names no bucket", id="swathstore.E003"))
        elif parsed.scheme == "file":
            root = Path(parsed.path)
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                errors.append(
                    Error(f"{var}: cannot create {root} for store {name!r}: {e}",
                          id="swathstore.E004")
                )
        else:
            errors.append(
                Error(f"{var}: {url!r} is neither s3:// nor file://", id="swathstore.E005")
            )
    return errors


@register()
def check_transfer_limits(app_configs: object, **kwargs: object) -> list[Error]:
    """The largest object must fit in 9,000 parts of at most S3's 5 GiB.

    S3_PART_SIZE_MB is a floor: archive.multipart.choose_part_size grows the parts of a
    large file, or of a stream of unknown size, until the object fits (PART_TARGET).
    """
    opts = settings.ARCHIVE_STORE_OPTIONS
    try:
        choose_part_size(None, part_size=opts["part_size"],
                         max_object_bytes=opts["max_object_bytes"])
    except SizeLimitExceeded as e:
        return [Error(
            f"ARCHIVE_MAX_OBJECT_GB={opts['max_object_bytes'] // 2**30} cannot be stored in "
            f"S3 multipart uploads ({e}): lower it", id="swathstore.E006",
        )]
    return []


@register()
def check_celery_timeouts(app_configs: object, **kwargs: object) -> list[Error]:
    """Redis redelivers unacked tasks after the visibility timeout (RELIABILITY C3)."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    limit = settings.CELERY_TASK_TIME_LIMIT
    errors = []
    if visibility < limit * 1.1:
        errors.append(Error(
            f"CELERY_VISIBILITY_TIMEOUT={visibility} must exceed CELERY_TASK_TIME_LIMIT={limit} "
            "by at least 10 %, or long tasks run twice",
            id="swathstore.E007",
        ))
    if limit <= settings.CELERY_TASK_SOFT_TIME_LIMIT:
        errors.append(Error(
            "CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT",
            id="swathstore.E008",
        ))
    return errors


@register()
def check_policies(app_configs: object, **kwargs: object) -> list[CheckMessage]:
    """A policy the operator named stores for must name configured ones; INGEST_POLICY
    must be one this configuration can meet.

    The built-in replicate and copy3 take the first two or three configured stores: on a
    one-store install they are merely out of reach (ingest and `archive replicate` refuse
    them with the reason), which is no reason to refuse to start.
    """
    from catalog.policies import COPIES, policy_problem

    errors: list[CheckMessage] = []
    configured = ", ".join(settings.ARCHIVE_STORES)
    for policy, var in settings.ARCHIVE_POLICY_VARS.items():
        names = settings.ARCHIVE_POLICIES[policy]
        for name in names:
            if name not in settings.ARCHIVE_STORES:
                errors.append(Error(
                    f"{var}: replication policy {policy!r} names store {name!r}, which "
                    f"neither STORE_URL nor STORES configures (configured: {configured})",
                    id="swathstore.E010",
                ))
        if names[:1] != ["primary"] or len(set(names)) != len(names) \
                or len(names) != COPIES[policy]:
            errors.append(Error(
                f"{var}={','.join(names)}: replication policy {policy!r} names "
                f"{COPIES[policy]} different stores, primary first (ingest stores the "
                "first copy in primary)",
                id="swathstore.E011",
            ))
    default = settings.INGEST_DEFAULT_POLICY
    problem = policy_problem(default, f"INGEST_POLICY={default}")
    if problem:
        errors.append(Error(problem, id="swathstore.E009"))
    return errors


@register(Tags.database)
def check_collection_policies(app_configs: object, **kwargs: object) -> list[CheckMessage]:
    """Warn of collections whose default_policy the configured stores cannot meet.

    A warning, and only under ``check --database default`` (and migrate): it reads the
    catalog, and one collection's setting must not stop every command from starting.
    Ingest and `archive replicate` refuse such a collection's policy with the same reason.
    """
    from catalog.models import Collection
    from catalog.policies import policy_problem

    if "default" not in (kwargs.get("databases") or ()):  # Django asks only when told to
        return []
    try:
        rows = list(Collection.objects.exclude(default_policy="single")
                    .values_list("slug", "default_policy"))
    except DatabaseError:  # no catalog yet (before the first migrate)
        return []
    warnings: list[CheckMessage] = []
    for slug, policy in rows:
        problem = policy_problem(policy, f"default_policy {policy}")
        if problem:
            warnings.append(CheckWarning(
                f"collection {slug!r}: {problem}; its ingests are refused until "
                "the stores are configured or the collection's policy is changed",
                id="swathstore.W009",
            ))
    return warnings
