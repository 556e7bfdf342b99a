"""System checks: refuse a broken configuration at start, naming the variable."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, register

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
def check_policies(app_configs: object, **kwargs: object) -> list[Error]:
    """Every policy names configured stores; the default one as many as it copies to."""
    errors = []
    for policy, names in settings.ARCHIVE_POLICIES.items():
        missing = [n for n in names if n not in settings.ARCHIVE_STORES]
        if missing:
            errors.append(Error(
                f"replication policy {policy!r} names stores {missing} that neither STORE_URL "
                f"nor STORES configures (configured: {sorted(settings.ARCHIVE_STORES)})",
                id="swathstore.E010",
            ))
    need = {"single": 1, "replicate": 2, "copy3": 3}[settings.INGEST_DEFAULT_POLICY]
    if len(settings.ARCHIVE_STORES) < need:
        errors.append(Error(
            f"INGEST_POLICY={settings.INGEST_DEFAULT_POLICY} needs {need} stores; "
            f"STORES configures {len(settings.ARCHIVE_STORES) - 1} besides STORE_URL",
            id="swathstore.E009",
        ))
    return errors
