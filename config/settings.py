"""Django settings for swathstore, read from the environment only (see .env.example).

No DATABASE_URL means SpatiaLite under var/; no STORE_URL means a local directory
store under var/objects; no CELERY_BROKER_URL means tasks run in-process. Production
(SWATHSTORE_PRODUCTION=1) refuses to start without its secrets.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_secret, env_stores, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
PRODUCTION = env_bool("SWATHSTORE_PRODUCTION", False)
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG=1 is refused when SWATHSTORE_PRODUCTION=1")


def _require(name: str, value: str | None) -> str:
    if PRODUCTION and not value:
        raise ImproperlyConfigured(f"{name} must be set when SWATHSTORE_PRODUCTION=1")
    return value or ""


def _dev_secret_key() -> str:
    # Outside production a key is made once and kept under var/, so sessions survive
    # restarts without anyone committing a key.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _require("SECRET_KEY", env_secret("SECRET_KEY")) or _dev_secret_key()
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "catalog",
    "ingest",
    "subset",
    "api",
    "hpc",
    "web",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise and CommonMiddleware, so static files and redirects carry them too.
    "web.middleware.ContentSecurityPolicyMiddleware",
    "api.cors.ReadOnlyCorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database --------------------------------------------------------------------
_db_url = env_str("DATABASE_URL") or ""
if PRODUCTION and not _db_url.startswith(("postgis://", "postgres://", "postgresql://")):
    raise ImproperlyConfigured("DATABASE_URL must be a postgis:// URL when SWATHSTORE_PRODUCTION=1")
try:
    # The embedded default's file is named directly: through a URL, a VAR_DIR holding
    # '+' or '%' would name another file (an empty database, "no such table").
    _db = environ.Env.db_url_config(_db_url) if _db_url else {
        "ENGINE": "django.contrib.gis.db.backends.spatialite",
        "NAME": str(VAR_DIR / "swathstore.sqlite3"),
    }
except (ValueError, KeyError) as e:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {e}") from e
if _db["ENGINE"] in ("django.db.backends.postgresql",):
    _db["ENGINE"] = "django.contrib.gis.db.backends.postgis"  # postgres:// means PostGIS here
if _db["ENGINE"] == "django.contrib.gis.db.backends.postgis":
    _opts = _db.setdefault("OPTIONS", {})
    # API queries must not run away; uploads never hold a transaction (RELIABILITY D2).
    _opts.setdefault(
        "options",
        f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 30000, minimum=0)} "
        f"-c idle_in_transaction_session_timeout="
        f"{env_int('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60000, minimum=0)}",
    )
    _db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    _db["CONN_HEALTH_CHECKS"] = True
elif _db["ENGINE"] == "django.contrib.gis.db.backends.spatialite":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _opts = _db.setdefault("OPTIONS", {})
    # Several writers at once (`ingest --workers N`, the web process, its subset thread):
    # every transaction takes the write lock at BEGIN (IMMEDIATE), so it waits up to
    # `timeout` seconds for it instead of failing at once with "database is locked" when
    # a read turns into a write under another writer (SQLite cannot wait there without
    # deadlocking); WAL lets readers go on while one writes. Measured and chosen in
    # docs/ARCHITECTURE.md ("The embedded default under concurrency").
    _opts.setdefault("timeout", 30)
    _opts.setdefault("transaction_mode", "IMMEDIATE")
    _opts.setdefault("init_command", "PRAGMA journal_mode=WAL")
    # pyenv's CPython is built without loadable SQLite extensions; pysqlite3 (built
    # from source against the system SQLite) stands in for it before Django loads it.
    import sqlite3 as _sqlite3

    if not hasattr(_sqlite3.Connection, "enable_load_extension"):
        try:
            import pysqlite3
            import pysqlite3.dbapi2
        except ImportError as e:
            raise ImproperlyConfigured(
                "DATABASE_URL is unset (SpatiaLite), but this Python cannot load SQLite "
                "extensions and pysqlite3 is missing: run `make setup`"
            ) from e
        sys.modules["sqlite3"] = pysqlite3
        sys.modules["sqlite3.dbapi2"] = pysqlite3.dbapi2
    SPATIALITE_LIBRARY_PATH = "mod_spatialite"
else:
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme gives {_db['ENGINE']}: use postgis:// or spatialite://"
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- object stores ---------------------------------------------------------------
# One reader (archive/envconfig.py), shared with compute nodes (hpc/env.py): STORE_URL,
# STORES, the S3_* options and each store's STORE_<NAME>_* endpoint and keys.
_stores = env_stores(VAR_DIR)
if PRODUCTION and not (env_str("STORE_URL") or "").startswith("s3://"):
    raise ImproperlyConfigured("STORE_URL must be an s3:// URL when SWATHSTORE_PRODUCTION=1")
if PRODUCTION:
    _primary = _stores.options_for(_stores.urls["primary"], "primary")
    _require("AWS_ACCESS_KEY_ID (or STORE_PRIMARY_ACCESS_KEY_ID)", _primary["access_key"])
    _require("AWS_SECRET_ACCESS_KEY (or STORE_PRIMARY_SECRET_ACCESS_KEY)", _primary["secret_key"])
STORE_URL = _stores.urls["primary"]
# Named stores for replication policies: STORES="offsite=s3://other-bucket,third=file:///x"
ARCHIVE_STORES = _stores.urls
# Options every S3 store shares, and each store's own (catalog.apps.store_specs joins them).
ARCHIVE_STORE_OPTIONS = _stores.options
ARCHIVE_STORE_OVERRIDES = _stores.per_store
# Stores each replication policy copies to (catalog/policies.py): by default the first
# two / three stores in configuration order (primary, then STORES); POLICY_REPLICATE_STORES
# and POLICY_COPY3_STORES name them instead ("primary,offsite,lab"); a system check
# refuses a name no store has (catalog/checks.py).
ARCHIVE_POLICY_VARS = {
    policy: var for policy, var in (("replicate", "POLICY_REPLICATE_STORES"),
                                    ("copy3", "POLICY_COPY3_STORES"))
    if env_list(var, [])
}
ARCHIVE_POLICIES = {
    "single": ["primary"],
    "replicate": env_list("POLICY_REPLICATE_STORES", [n for n in ARCHIVE_STORES][:2]),
    "copy3": env_list("POLICY_COPY3_STORES", [n for n in ARCHIVE_STORES][:3]),
}
PRESIGN_DOWNLOADS = env_bool("PRESIGN_DOWNLOADS", False)
PRESIGN_MAX_SECONDS = ARCHIVE_STORE_OPTIONS["presign_max_s"]

# --- ingest ----------------------------------------------------------------------
INGEST_DEFAULT_CODEC = env_choice("INGEST_CODEC", "auto", ("auto", "none", "gzip", "zstd"))
# "auto" keeps NetCDF classic files from this size as they are (ranged reads, a chunk
# index) and zstd-compresses smaller ones (docs/BENCHMARKS.md, "NetCDF classic").
INGEST_CLASSIC_AS_IS_MB = env_int("INGEST_CLASSIC_AS_IS_MB", 64, minimum=0)
INGEST_DEFAULT_POLICY = env_choice("INGEST_POLICY", "single", ("single", "replicate", "copy3"))
INGEST_MIN_FILE_AGE_S = env_int("INGEST_MIN_FILE_AGE_S", 0, minimum=0)
INGEST_INSPECT_TIMEOUT_S = env_int("INGEST_INSPECT_TIMEOUT_S", 60, minimum=1)
# gzip/bzip2/zstd-wrapped granules are unwrapped to a temporary file to be read; a file
# that grows past this is refused as a decompression bomb (raise it for huge granules).
INGEST_UNWRAP_MAX_MB = env_int("INGEST_UNWRAP_MAX_MB", 64 * 1024, minimum=1)
# A PNG of each new swath's main variable, stored beside it (a STAC "overview" asset).
INGEST_QUICKLOOKS = env_bool("INGEST_QUICKLOOKS", True)
# A chunk index (kerchunk references) of each new NetCDF4/HDF5 swath stored as-is, beside it.
INGEST_CHUNK_INDEX = env_bool("INGEST_CHUNK_INDEX", True)
UPLOAD_LEASE_S = env_int("UPLOAD_LEASE_S", 3600, minimum=10)
DEMO_SWATHS = env_int("DEMO_SWATHS", 6, minimum=0)

# --- subsets ---------------------------------------------------------------------
# A request whose estimated result is larger is answered with the estimate up front.
SUBSET_MAX_BYTES = env_int("SUBSET_MAX_MB", 2000, minimum=1) * 10**6
# Most swaths one search request may turn into products.
SUBSET_MAX_SWATHS = env_int("SUBSET_MAX_SWATHS", 100, minimum=1)
# The largest sum of the estimates of one request's products (a search over many swaths).
SUBSET_MAX_TOTAL_BYTES = env_int("SUBSET_MAX_TOTAL_MB", 10000, minimum=1) * 10**6
# Automatic attempts of a product (broker redeliveries, reconcile re-sending a FAILED one)
# before it waits for a person's retry, which gives it this many again.
SUBSET_MAX_ATTEMPTS = env_int("SUBSET_MAX_ATTEMPTS", 3, minimum=1)
# Without a broker each web process cuts in one thread of its own (subset/dispatch.py):
# the most products waiting in it, and how often an idle one looks for lost products.
SUBSET_LOCAL_QUEUE = env_int("SUBSET_LOCAL_QUEUE", 1000, minimum=1)
SUBSET_LOCAL_SWEEP_S = env_int("SUBSET_LOCAL_SWEEP_S", 60, minimum=1)
# Estimates (POST subsets/estimate): a cut's speed in MB read per second (docs/BENCHMARKS.md
# measured 55 from S3, decoding and compressing included), and the largest object an
# estimate downloads when a cut would download it whole (NetCDF3, compressed copies).
SUBSET_ESTIMATE_MB_PER_S = env_int("SUBSET_ESTIMATE_MB_PER_S", 50, minimum=1)
SUBSET_ESTIMATE_DOWNLOAD_BYTES = env_int("SUBSET_ESTIMATE_DOWNLOAD_MB", 256, minimum=0) * 10**6

# --- Celery ----------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or None
if CELERY_BROKER_URL and not CELERY_BROKER_URL.startswith(("redis://", "amqp://", "rediss://")):
    raise ImproperlyConfigured("CELERY_BROKER_URL must be redis://, rediss:// or amqp://")
# Without a broker, tasks run in-process (the embedded default); subset cuts asked over
# the API go to the web process's worker thread instead of the request (subset/dispatch.py).
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int(
    "CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT - 60, minimum=5
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis redelivers unacked tasks after this; it must exceed the task time limit
    # or a long upload runs twice (RELIABILITY C3). A system check enforces it.
    "visibility_timeout": env_int(
        "CELERY_VISIBILITY_TIMEOUT", int(CELERY_TASK_TIME_LIMIT * 1.2), minimum=10
    ),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic maintenance (celery beat): repair, check and clean the archive.
CELERY_IMPORTS = ("ops.periodic",)
CELERY_BEAT_SCHEDULE = {
    "reconcile": {
        "task": "ops.periodic.reconcile_task",
        "schedule": env_int("RECONCILE_EVERY_S", 900, minimum=60),
        "options": {"expires": 900},
    },
    "fsck": {"task": "ops.periodic.fsck_task", "schedule": 86400},
    "fsck-full": {"task": "ops.periodic.fsck_task", "schedule": 7 * 86400,
                  "kwargs": {"full": True}},
    "cleanup": {"task": "ops.periodic.cleanup_task", "schedule": 3600,
                "kwargs": {"older_than_s": 86400}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- API -------------------------------------------------------------------------
API_PUBLIC_READS = env_bool("API_PUBLIC_READS", True)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly"
        if API_PUBLIC_READS
        else "rest_framework.permissions.IsAuthenticated"
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # DRF's JSON parser with every body's nesting depth bounded (catalog/nesting.py).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # DRF's anonymous and per-user rates; Range reads of a swath's bytes (a chunk each,
    # for clients of the chunk references) are counted apart (api/throttles.py).
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.AnonThrottle", "api.throttles.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "600/minute"),
        "user": env_str("API_THROTTLE_USER", "3000/minute"),
        "anon_ranges": env_str("API_THROTTLE_ANON_RANGES", "6000/minute"),
        "user_ranges": env_str("API_THROTTLE_USER_RANGES", "30000/minute"),
    },
    # Number of trusted reverse proxies in front of the app; forged X-Forwarded-For
    # values beyond them are ignored by throttling.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "swathstore API",
    "DESCRIPTION": "Search, download and subset archived satellite swaths.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ loads Swagger UI from our own static files (web/build.sh vendors it from
    # npm), never from a CDN: the page works offline and under the CSP below.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui/favicon-32x32.png",
    # Product.state is in two components (api's products and subset jobs): one enum name.
    "ENUM_NAME_OVERRIDES": {"ProductStateEnum": "catalog.models.Product.State"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 2**20, minimum=1024)
API_MAX_QUERY_VERTICES = env_int("API_MAX_QUERY_VERTICES", 10000, minimum=4)
# Each search runs under SET LOCAL statement_timeout (RELIABILITY D7).
API_STATEMENT_TIMEOUT_MS = env_int("API_STATEMENT_TIMEOUT_MS", 5000, minimum=100)
# STAC search pages on PostgreSQL serve each item's JSON stored by the database
# (api.stac.storeditems), rendered from the same declaration as the Python renderer
# (api.stac.itemdef); off, PostgreSQL pages are rendered in Python as on SpatiaLite.
API_SQL_ITEMS = env_bool("API_SQL_ITEMS", True)
# /stac/aggregate refuses (400, naming both numbers) a request whose filter the planner
# estimates to match more rows than this (SpatiaLite: counted up to it), rather than
# scanning them into a statement timeout (api.stac.aggregation).
STAC_AGGREGATE_MAX_ROWS = env_int("STAC_AGGREGATE_MAX_ROWS", 500_000, minimum=1)
# A search on the valid fraction (valid_fraction, swathstore:valid_fraction) reads the
# coverage of every swath its other filters match and computes the fraction in Python
# (api.coverage); above this many such candidates it answers 400, naming both numbers,
# rather than running into the statement timeout.
SEARCH_COVERAGE_MAX_CANDIDATES = env_int("SEARCH_COVERAGE_MAX_CANDIDATES", 10_000, minimum=1)

# --- caches (throttling, sign-in lockout) -----------------------------------------
_redis_cache = env_str("CACHE_URL")
CACHES = {
    "default": environ.Env.cache_url_config(_redis_cache)
    if _redis_cache
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Failed sign-ins must be counted across every web process: Redis when there is one,
    # else files every process of this machine shares (web/lockout.py).
    "login": {**environ.Env.cache_url_config(_redis_cache), "KEY_PREFIX": "login"}
    if _redis_cache
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
          "LOCATION": str(VAR_DIR / "cache" / "login")},
}

# --- sign-in lockout (web/lockout.py) ---------------------------------------------
# After this many failed sign-ins for one user name from one address (/login/,
# /admin/login/), that pair is refused for LOGIN_LOCKOUT_S, whatever the password.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_S = env_int("LOGIN_LOCKOUT_S", 900, minimum=1)
AUTHENTICATION_BACKENDS = [
    "web.lockout.LockoutBackend",  # refuses a locked pair before any password is checked
    "django.contrib.auth.backends.ModelBackend",
]

# --- i18n, static ----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WEB_TILE_URL = env_str("WEB_TILE_URL", "")

# --- security (production) -------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# --- logging ---------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "config.logfilters.RedactSecrets"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # botocore at DEBUG prints session tokens (RELIABILITY pitfall 12).
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "s3transfer": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# gis.W001 warns that GDAL < 3.9 cannot block file/network access while parsing
# spatial references. swathstore never passes user-supplied SRS strings to GDAL: every
# query geometry is validated lon/lat in SRID 4326 by api/ before it reaches GEOS.
# models.W040 warns on SQLite that an index's INCLUDE columns are ignored: the one such
# index (catalog.Swath's swath_coll_start_agg) covers on PostgreSQL and is a plain
# (collection, start_time) index on SQLite, as intended.
SILENCED_SYSTEM_CHECKS = ["gis.W001", "models.W040"]
