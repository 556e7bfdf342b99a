"""Catalog models: the source of truth for what the archive holds.

States follow docs/RELIABILITY.md: PENDING -> UPLOADING (lease) -> STORED ->
VERIFIED, with FAILED and QUARANTINED as side states, and LOST when every copy of a
VERIFIED swath went MISSING or CORRUPT with no good copy to rebuild from (ops.heal).
Every transition is a short conditional UPDATE in catalog.services (catalog.copies and
ops.heal for copies); no transaction is held during I/O.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q

from catalog.querysets import ProductQuerySet, SwathQuerySet


class Codec(models.TextChoices):
    AUTO = "auto", "auto (NetCDF4/HDF5 as-is, others zstd)"
    NONE = "none", "none"
    GZIP = "gzip", "gzip"
    ZSTD = "zstd", "zstd"


class Policy(models.TextChoices):
    SINGLE = "single", "single copy"
    REPLICATE = "replicate", "2 stores"
    COPY3 = "copy3", "3 stores"


class SlugNamed(models.Model):
    """A row named by a unique slug: listed in slug order and printed as its slug."""

    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        abstract = True
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Collection(SlugNamed):
    """A product line, e.g. MODIS-Aqua L2 ocean colour."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    platform = models.CharField(max_length=100, blank=True)
    instrument = models.CharField(max_length=100, blank=True)
    processing_level = models.CharField(max_length=20, blank=True)
    license = models.CharField(max_length=100, default="proprietary")
    # Geolocation/time variable names for files whose metadata does not say (readers).
    variable_hints = models.JSONField(default=dict, blank=True)
    default_codec = models.CharField(max_length=8, choices=Codec.choices, default=Codec.AUTO)
    default_policy = models.CharField(max_length=16, choices=Policy.choices, default=Policy.SINGLE)
    created_at = models.DateTimeField(auto_now_add=True)


class IngestRun(models.Model):
    """One run of the bulk ingest: what was asked, what happened."""

    class State(models.TextChoices):
        RUNNING = "RUNNING"
        DONE = "DONE"
        FAILED = "FAILED"  # at least one file failed; the others went on
        # Its process died (killed, crashed, host rebooted) before the summary; the next
        # run to start found it so (ingest.bulk.interrupt_dead_runs). Its counts are the
        # files it recorded; the rest are taken up by any later run (ingest is idempotent).
        INTERRUPTED = "INTERRUPTED"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="runs")
    paths = models.JSONField(default=list)
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RUNNING)
    # "host:pid:start" of the process that runs it (ingest.bulk.run_owner): a later run on
    # the same host asks whether that process still lives.
    owner = models.CharField(max_length=300, blank=True, default="")
    n_files = models.PositiveIntegerField(default=0)
    n_new = models.PositiveIntegerField(default=0)
    n_skipped = models.PositiveIntegerField(default=0)
    n_failed = models.PositiveIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    bytes_new = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    errors = models.JSONField(default=list, blank=True)  # [{"path": ..., "reason": ...}]
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    @property
    def mb_per_s(self) -> float:
        return self.bytes_new / 1e6 / self.seconds if self.seconds else 0.0


class IngestItem(models.Model):
    """One file's outcome in a run; written by whichever process handled the file."""

    run = models.ForeignKey(IngestRun, on_delete=models.CASCADE, related_name="items")
    path = models.TextField()
    status = models.CharField(max_length=8)  # new | skipped | failed
    reason = models.TextField(blank=True)
    size = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    swath = models.ForeignKey("Swath", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # the CLI follows a --celery run by counting its items
            models.Index(fields=["run", "status"], name="ingestitem_run_status"),
        ]


class SwathState(models.TextChoices):
    PENDING = "PENDING"
    UPLOADING = "UPLOADING"
    STORED = "STORED"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    QUARANTINED = "QUARANTINED"
    DELETED = "DELETED"
    # Was VERIFIED; no store holds a copy that hashes to its sha256 any more (ops.heal).
    # failure_reason says what became of each copy. Reconcile re-ingests it when its
    # source file is still there; a copy that verifies again brings it back to VERIFIED.
    LOST = "LOST"


class Swath(models.Model):
    """One granule: where and when it looked, and where its bytes are."""

    State = SwathState

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the object id
    # No index of its own: swath_unique_version leads with collection_id and serves
    # every lookup by collection (each index costs every insert; catalog-only
    # registration is bound by index maintenance, docs/BENCHMARKS.md).
    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="swaths", db_index=False
    )
    granule_id = models.CharField(max_length=255)
    version = models.PositiveIntegerField(default=1)  # a changed file under the same name
    filename = models.CharField(max_length=255)
    source_path = models.TextField(blank=True)
    # (size, mtime_ns) of the source when ingested: an unchanged file is skipped by
    # one indexed lookup, without reading it again.
    source_mtime_ns = models.BigIntegerField(null=True, blank=True)
    format = models.CharField(max_length=16, blank=True)
    # STAC values from eo.identify: lowercase short names ("sentinel-6a", "ascat").
    platform = models.CharField(max_length=100, blank=True)
    constellation = models.CharField(max_length=50, blank=True, default="", db_default="")
    instrument = models.CharField(max_length=100, blank=True)
    processing_level = models.CharField(max_length=16, blank=True, default="", db_default="")
    orbit = models.IntegerField(null=True, blank=True)  # absolute orbit
    orbit_direction = models.CharField(max_length=12, blank=True)
    relative_orbit = models.IntegerField(null=True, blank=True)
    orbit_cycle = models.IntegerField(null=True, blank=True)  # repeat cycle (altimeters)
    pass_number = models.IntegerField(null=True, blank=True)  # pass within the cycle
    # Where the granule's pass or orbit crosses the equator (-180..180): as the file
    # states it, else the track's own crossing, else extrapolated (docs/API.md).
    equator_crossing_longitude = models.FloatField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    # Split at the antimeridian and closed over the poles, so planar predicates on
    # SRID 4326 are exact (and 2-4x faster than geography: ENVIRONMENT.md).
    footprint = models.MultiPolygonField(srid=4326, null=True, blank=True)
    is_empty = models.BooleanField(default=False)  # no valid pixel: searchable by time only
    # Why the footprint may not be the science data's (e.g. made from summary geolocation
    # only); attrs["geolocation"] names the variables it was made from. A database
    # default too: the bulk COPY of catalog/bulkload.py names its columns.
    footprint_warning = models.TextField(blank=True, default="", db_default="")
    # Valid-pixel counts of the main variable per H3 cell (ingest/coverage.py blob), or None.
    coverage = models.BinaryField(null=True, blank=True, editable=False)
    size = models.BigIntegerField(null=True, blank=True)  # original bytes
    sha256 = models.CharField(max_length=64, null=True, blank=True)  # of the original bytes
    state = models.CharField(max_length=12, choices=SwathState.choices, default=SwathState.PENDING)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    attrs = models.JSONField(default=dict, blank=True)  # global attrs, variables, geolocation
    ingest_run = models.ForeignKey(
        IngestRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="swaths"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    objects = SwathQuerySet.as_manager()

    class Meta:
        ordering = ["-start_time", "-id"]
        constraints = [
            # The same bytes can be archived once: a second copy is refused by the
            # database, whatever the store does (RELIABILITY S8).
            models.UniqueConstraint(
                fields=["sha256"],
                condition=Q(sha256__isnull=False) & ~Q(state="DELETED"),
                name="swath_unique_live_sha256",
            ),
            models.UniqueConstraint(
                fields=["collection", "granule_id", "version"], name="swath_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(start_time__isnull=True)
                | Q(end_time__isnull=True)
                | Q(end_time__gte=models.F("start_time")),
                name="swath_time_ordered",
            ),
        ]
        indexes = [
            # time-window search: start_time <= t1 AND end_time >= t0, newest first
            models.Index(fields=["start_time", "id"], name="swath_start_id"),
            models.Index(fields=["end_time"], name="swath_end"),
            # resume/reconcile: rows by state, oldest first
            models.Index(fields=["state", "updated_at"], name="swath_state_updated"),
            # Re-ingest lookups by (collection, granule_id) use swath_unique_version's
            # leading columns; a separate index on them only slowed every insert.
        ]

    def __str__(self) -> str:
        return f"{self.collection_id}:{self.granule_id} v{self.version}"


class StoredObject(models.Model):
    """One copy of a swath's (or product's) bytes in one named store."""

    class State(models.TextChoices):
        UPLOADING = "UPLOADING"
        STORED = "STORED"
        VERIFIED = "VERIFIED"
        FAILED = "FAILED"
        MISSING = "MISSING"
        CORRUPT = "CORRUPT"

    swath = models.ForeignKey(
        Swath, null=True, blank=True, on_delete=models.CASCADE, related_name="copies"
    )
    store = models.CharField(max_length=50)
    key = models.CharField(max_length=1024)
    codec = models.CharField(max_length=8, default="none")
    size = models.BigIntegerField(null=True, blank=True)  # original bytes
    stored_size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)  # of the original bytes
    etag = models.CharField(max_length=100, blank=True)
    upload_id = models.CharField(max_length=255, blank=True)
    # Cleanup's horizon is measured from this database time, not S3's Initiated.
    upload_started_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.UPLOADING)
    # Why a copy is MISSING or CORRUPT (fsck, a read that failed its hash, a heal that
    # could not rebuild it) and when that was found; empty once it is VERIFIED again.
    problem = models.TextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "key"], name="object_unique_store_key"),
        ]
        indexes = [
            # cleanup: uploads by age
            models.Index(fields=["state", "upload_started_at"], name="object_state_started"),
        ]

    def __str__(self) -> str:
        return f"{self.store}:{self.key}"


class Region(SlugNamed):
    """A named area; with an active order, new swaths over it are subset automatically."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    geometry = models.MultiPolygonField(srid=4326)
    order_active = models.BooleanField(default=False)
    order_collections = models.ManyToManyField(Collection, blank=True, related_name="orders")
    order_variables = models.JSONField(default=list, blank=True)
    # Who the standing order's products belong to (products are private: their owner
    # and staff read them); an order without one makes products only staff can read.
    order_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="standing_orders",
    )
    # Why the order's region cannot be cut (the kernel refuses it), and since when: set
    # once by the first swath that finds it (subset.services.create_order_products), so
    # reconcile reports it once; such an order makes no products until its region is
    # saved again (the admin), it is resumed (subset.orders.resume_order: POST
    # regions/{slug}/resume/, manage.py order resume) or the order is made anew.
    order_problem = models.TextField(blank=True, default="", db_default="")
    order_problem_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Product(models.Model):
    """A regional subset cut from one swath, private to its owner (and staff)."""

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        DONE = "DONE"
        EMPTY = "EMPTY"  # the region touches no valid pixel: nothing to deliver
        FAILED = "FAILED"

    swath = models.ForeignKey(Swath, on_delete=models.PROTECT, related_name="products")
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    geometry = models.MultiPolygonField(srid=4326)
    variables = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # sha256 of the canonical parameters and the owner: the same request twice by one
    # user is the same product; another user asking the same gets a product of their own.
    params_hash = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # cuts started, ever
    # Automatic attempts (broker redeliveries, reconcile) stop at attempts_base +
    # settings.SUBSET_MAX_ATTEMPTS; a person's retry moves the base up to attempts, as
    # register_swath resets a swath's count for a data manager's re-run.
    attempts_base = models.PositiveSmallIntegerField(default=0)
    # Earlier attempts that FAILED, oldest first: [{"attempt", "at", "error"}]; written
    # when a FAILED product is sent again ("error" is the latest attempt's).
    failures = models.JSONField(default=list, blank=True)
    # Reconcile said GIVE-UP for it (out of automatic attempts): said once, not each sweep.
    given_up = models.BooleanField(default=False)
    result = models.ForeignKey(
        StoredObject, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    result_size = models.BigIntegerField(null=True, blank=True)
    bytes_read = models.BigIntegerField(null=True, blank=True)  # from the store
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # workers and the API list products of a swath by state
            models.Index(fields=["swath", "state"], name="product_swath_state"),
            # which of these swaths have a product of this order? (an order's backfill,
            # once per batch; reconcile's missed orders, once per recent swath)
            models.Index(fields=["region", "swath"], name="product_region_swath"),
        ]

    def __str__(self) -> str:
        return f"product {self.pk} of swath {self.swath_id}"
