"""weifei.settings.dev without persistent database connections (CONN_MAX_AGE = 0).

For bench experiments only (``bench/run.py --settings bench.settings_no_persistent_db``):
Django documents that persistent connections should be disabled under ASGI, and the base
settings enable them (60 s) for PostgreSQL. This module shows what that setting costs or saves;
it does not change the application.
"""

from weifei.settings.dev import *  # noqa: F403
from weifei.settings.dev import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0
