"""Test settings: the product's settings with fast hashing and quiet logs."""

import os
import tempfile

os.environ.setdefault("FLEETPOST_VAR_DIR", tempfile.mkdtemp(prefix="fleetpost-tests-"))

from config.settings import *  # noqa: E402,F403
from config.settings import LOGGING, Q_CLUSTER  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {**LOGGING, "loggers": {}}
LOGGING["root"] = {"handlers": ["console"], "level": "WARNING"}
# Unit tests look at what was enqueued rather than running it.
Q_CLUSTER = {**Q_CLUSTER, "sync": False, "orm": "default"}
Q_CLUSTER.pop("redis", None)
RETRY_JITTER = 0.0
NOTIFY_WEBHOOK_URL = ""
NOTIFY_EMAILS = []
