"""Fleetpost settings.

Everything an operator may change comes from the environment through the validating helpers in
`config.env`; the defaults run the whole product on one machine (SQLite, django-q2's ORM broker,
simulated devices). README.md lists every variable.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_port_range, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FLEETPOST_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

# The web process and every qcluster process sign and read the same task payloads, so the
# development key is a constant rather than a per-process random value. It is refused when
# DEBUG is off.
DEVELOPMENT_SECRET_KEY = "fleetpost-development-key-not-for-production"
SECRET_KEY = env_str("SECRET_KEY") or (DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must not be the development key when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    # posting comes first so that its `qcluster` (heartbeat and sweep around django-q2's
    # cluster) overrides django_q's command of the same name.
    "posting",
    "devices",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
]

# Development tools: `fleetlab` (the benchmark harness, `manage.py bench`) is an app only where
# this is on, by default with DEBUG; production never installs it. The product never imports it.
DEV_TOOLS = env_bool("DEV_TOOLS", DEBUG)
if DEV_TOOLS:
    INSTALLED_APPS.append("fleetlab")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (the admin's, the dashboard's, Chart.js) under gunicorn.
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
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "posting.context_processors.console_pauses",
            ],
        },
    },
]


def _database_from_env() -> dict:
    url = env_str("DATABASE_URL")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'fleetpost.sqlite3'}"
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL we understand: {exc}"
        ) from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE takes the write lock at BEGIN, so two claimers queue on the busy timeout
        # instead of failing with "database is locked" when one upgrades a read lock.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30, minimum=1),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    return config


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
# The console's one absolute time format, with its time zone (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
if DEBUG:
    # Development serves static files from the apps (whitenoise's finders); the folder only
    # has to exist.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "admin:login"

if not DEBUG:
    # Production: behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # The web server's access lines without static files, the dashboard's refresh and the
    # favicon: `runfleet`'s console shows the workers and the attempts.
    "filters": {"quiet_access": {"()": "posting.log_filters.QuietAccessLog"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["quiet_access"],
        },
    },
    "loggers": {
        "django.server": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "posting": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "devices": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django-q": {"handlers": ["console"], "level": env_str("Q_LOG_LEVEL", "WARNING")},
    },
}

# --- Fleetpost ------------------------------------------------------------------------------

# Relative video paths in imported CSVs resolve under this folder and may not leave it.
VIDEO_ROOT = Path(env_str("VIDEO_ROOT", str(VAR_DIR / "videos")))

# Retry policy (see retries/policy.py).
DEFAULT_MAX_ATTEMPTS = env_int("DEFAULT_MAX_ATTEMPTS", 3, minimum=1)
RETRY_DELAY_MINUTES = env_float("RETRY_DELAY_MINUTES", 2.0, minimum=0)
RETRY_MAX_DELAY_MINUTES = env_float("RETRY_MAX_DELAY_MINUTES", 60.0, minimum=0)
RETRY_JITTER = env_float("RETRY_JITTER", 0.2, minimum=0)
RATE_LIMIT_COOLDOWN_MINUTES = env_float("RATE_LIMIT_COOLDOWN_MINUTES", 60.0, minimum=0)

# Execution. A device task runs jobs for at most DEVICE_TASK_BUDGET seconds, then re-enqueues
# itself; one job may take JOB_TIMEOUT seconds before its backend session is torn down.
JOB_TIMEOUT = env_float("JOB_TIMEOUT", 600.0, minimum=1)
DEVICE_TASK_BUDGET = env_float("DEVICE_TASK_BUDGET", 300.0, minimum=1)
DEVICE_IDLE_WAIT = env_float("DEVICE_IDLE_WAIT", 5.0, minimum=0)
LEASE_SECONDS = env_float("LEASE_SECONDS", 30.0, minimum=1)
CLUSTER_HEARTBEAT_SECONDS = env_float("CLUSTER_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
SWEEP_SECONDS = env_float("SWEEP_SECONDS", 10.0, minimum=0.1)
WATCHDOG_STALL_SECONDS = env_float("WATCHDOG_STALL_SECONDS", 300.0, minimum=1)

# Device health: this many infrastructure failures in a row quarantine a device for
# QUARANTINE_MINUTES, doubled on each repeat up to QUARANTINE_MAX_MINUTES.
QUARANTINE_AFTER = env_int("QUARANTINE_AFTER", 3, minimum=1)
QUARANTINE_MINUTES = env_float("QUARANTINE_MINUTES", 10.0, minimum=0)
QUARANTINE_MAX_MINUTES = env_float("QUARANTINE_MAX_MINUTES", 240.0, minimum=0)

# The platform circuit breaker (posting/breaker.py): when this many distinct accounts of one
# platform are held for account reasons (captcha, suspended, logged out) within the window, the
# platform is paused until an operator resumes it. Rate limits count apart, with their own
# threshold (a cooldown, not a ban). README "The platform circuit breaker" gives the reasoning.
PLATFORM_BREAKER = env_bool("PLATFORM_BREAKER", True)
PLATFORM_BREAKER_HOLDS = env_int("PLATFORM_BREAKER_HOLDS", 3, minimum=1)
PLATFORM_BREAKER_RATE_LIMITS = env_int("PLATFORM_BREAKER_RATE_LIMITS", 5, minimum=1)
PLATFORM_BREAKER_MINUTES = env_float("PLATFORM_BREAKER_MINUTES", 30.0, minimum=0.1)

# An attempt that failed after the publishing checkpoint and cannot be verified goes to
# needs_review. True retries it instead (at-least-once: a post may appear twice).
PUBLISH_AT_LEAST_ONCE = env_bool("PUBLISH_AT_LEAST_ONCE", False)

# The cluster that serves devices whose host is not set, and the django-q2 site name.
DEFAULT_HOST = env_str("FLEETPOST_DEFAULT_HOST", "local")

_Q_TIMEOUT = int(DEVICE_TASK_BUDGET + JOB_TIMEOUT + 60)
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    "name": DEFAULT_HOST,
    "workers": env_int("Q_WORKERS", 8, minimum=1),
    "timeout": _Q_TIMEOUT,
    # The broker redelivers a task still unacknowledged after `retry`: keep it well above
    # `timeout` so a long device task is never run twice by the broker itself.
    "retry": 2 * _Q_TIMEOUT + 60,
    # Our tables count attempts (django-q misses dead workers), so the broker tries once.
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": env_int("Q_SAVE_LIMIT", 250, minimum=-1),
    "catch_up": False,
    "poll": env_float("Q_POLL", 0.2, minimum=0.01),
    # The pusher takes tasks off the broker ahead of free workers (default workers²). On Redis
    # a task taken is gone from the broker, so a cluster killed with a full local queue loses
    # them all; keep the prefetch to one per worker.
    "queue_limit": env_int("Q_QUEUE_LIMIT", env_int("Q_WORKERS", 8, minimum=1), minimum=1),
    "label": "Task queue",
    # django-q2 pops this key without a default when Q_CLUSTER_NAME names another cluster,
    # so it must exist even when no host needs overrides.
    "ALT_CLUSTERS": {},
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Notifications (account held, device quarantined, watchdog, needs review, pass finished).
NOTIFY_WEBHOOK_URL = env_str("NOTIFY_WEBHOOK_URL")
NOTIFY_EMAILS = env_list("NOTIFY_EMAILS")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fleetpost@localhost")

# A device task enqueued but not started yet is not enqueued again for this long.
WAKE_DEBOUNCE_SECONDS = env_float("WAKE_DEBOUNCE_SECONDS", 60.0, minimum=0)

# A quarantined device is probed through its backend this often; a pass ends the quarantine.
QUARANTINE_PROBE_SECONDS = env_float("QUARANTINE_PROBE_SECONDS", 120.0, minimum=1)

# Appium: where posting flows live (one <platform>.json per platform, first folder wins) and
# how long one HTTP call to an Appium server may take.
APPIUM_FLOW_DIRS = env_list("APPIUM_FLOW_DIRS", [str(BASE_DIR / "devices" / "flows")])
APPIUM_HTTP_TIMEOUT = env_float("APPIUM_HTTP_TIMEOUT", 60.0, minimum=1)
# Parallel UiAutomator2 sessions on one host need distinct local ports: each Appium device gets
# its own systemPort and mjpegServerPort from these ranges (inclusive), unique per host.
APPIUM_SYSTEM_PORTS = env_port_range("APPIUM_SYSTEM_PORTS", (8200, 8299))
APPIUM_MJPEG_PORTS = env_port_range("APPIUM_MJPEG_PORTS", (9200, 9299))
if set(APPIUM_SYSTEM_PORTS) & set(APPIUM_MJPEG_PORTS):
    raise ImproperlyConfigured("APPIUM_SYSTEM_PORTS and APPIUM_MJPEG_PORTS must not overlap")
# The Appium server discover_devices gives new phones when --appium-url is not given.
APPIUM_DEFAULT_URL = env_str("APPIUM_DEFAULT_URL", "http://127.0.0.1:4723")
# Lines of the phone's logcat kept with a failed attempt (where the driver offers logcat).
APPIUM_LOGCAT_LINES = env_int("APPIUM_LOGCAT_LINES", 200, minimum=1)

# Chart.js for the dashboard comes from the npm registry through scripts/setup (npm ci) and is
# served as a static file: no CDN at run time.
CHARTJS_DIST = BASE_DIR / "node_modules" / "chart.js" / "dist"
STATICFILES_DIRS = [("vendor/chartjs", CHARTJS_DIST)] if CHARTJS_DIST.is_dir() else []

# Retention: attempts (and their evidence files) older than this are pruned daily, except
# those of jobs in needs_review and of the latest pass. The daily schedule runs on this cluster.
RETENTION_DAYS = env_int("RETENTION_DAYS", 90, minimum=1)
RETENTION_CLUSTER = env_str("RETENTION_CLUSTER", DEFAULT_HOST)
# How long a command waits for a task it sent to a device host's cluster (check_devices,
# import_jobs --check-files).
HOST_TASK_WAIT_SECONDS = env_float("HOST_TASK_WAIT_SECONDS", 30.0, minimum=1)
