"""Test settings: PostgreSQL when DATABASE_URL is set, an SQLite file otherwise."""

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
CELERY_TASK_ALWAYS_EAGER = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
else:
    # pytest-django creates and drops the test database; a pool would hold connections open to it.
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
