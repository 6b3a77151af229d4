"""Settings shared by every environment. Environment values come from ``env`` only."""

from __future__ import annotations

import dj_database_url
from django.utils.translation import gettext_lazy as _

from . import env

BASE_DIR = env.BASE_DIR
VAR_DIR = env.VAR_DIR
# The SQLite file and collected static files live here; a fresh clone has no var/ yet.
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)

SECRET_KEY = env.SECRET_KEY
DEBUG = env.DEBUG
ALLOWED_HOSTS = env.ALLOWED_HOSTS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "weifei.core",
    "weifei.catalog",
    "weifei.accounts",
    "weifei.registry",
    "weifei.exchange",
    "weifei.plans",
    "weifei.manifests",
    "weifei.approvals",
    "weifei.notify",
    "weifei.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Regulators' sessions without a verified TOTP code are logged out (however they were made).
    "weifei.accounts.sessions.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "weifei.core.middleware.RequestIdMiddleware",
    "weifei.core.middleware.RejectNulMiddleware",
    "weifei.core.middleware.ApplicationErrorMiddleware",
    # Last: after authentication (the key belongs to a user, token or address) and after the
    # NUL check (the path and body it stores are clean).
    "weifei.accounts.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "weifei.urls"
WSGI_APPLICATION = "weifei.wsgi.application"
ASGI_APPLICATION = "weifei.asgi.application"

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
                "django.template.context_processors.i18n",
                "weifei.web.context.navigation",
                "weifei.notify.context.notifications",
            ],
        },
    },
]

# DATABASE_URL selects PostgreSQL (or anything dj-database-url reads); the default is the
# zero-setup SQLite file under var/.
DATABASES = {"default": dj_database_url.parse(env.DATABASE_URL or f"sqlite:///{VAR_DIR / 'weifei.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per process rather than persistent connections: under ASGI each request
    # may run in another thread, and CONN_MAX_AGE > 0 then leaves one idle connection per request
    # until PostgreSQL runs out (measured in bench/, docs/benchmarks.md).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": env.int_("WEIFEI_DB_POOL_SIZE", 8)}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the demo server read while a long import writes.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Counts failed passwords and refuses locked accounts on every way in (see accounts.backends).
AUTHENTICATION_BACKENDS = ["weifei.accounts.backends.LockoutModelBackend"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:landing"

# zh-Hans first; English selectable. Stored in UTC, shown in Asia/Shanghai.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "weifei" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# Whole TrueType CJK fonts for PDFs, copied from npm by scripts/build_assets.py (make setup).
PDF_FONT_DIR = BASE_DIR / "var" / "fonts"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Celery: a broker URL selects Redis; without one, tasks run in-process.
CELERY_BROKER_URL = env.CELERY_BROKER_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not env.CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# Periodic work, run by `celery -A weifei beat` next to the workers.
CELERY_BEAT_SCHEDULE = {
    # Tie every stream head of the event log together (docs/audit.md).
    "audit-chain-root": {"task": "weifei.core.tasks.chain_root", "schedule": 3600.0},
    # Expired idempotency records and login throttles.
    "accounts-purge": {"task": "weifei.accounts.tasks.purge_expired", "schedule": 3600.0},
    # Storage over time / over capacity (medical waste counts in hours, so hourly).
    "stock-ageing-sweep": {"task": "weifei.plans.tasks_stock.stock_ageing_sweep", "schedule": 3600.0},
    # Missing and late declarations and plans (due dates are whole days; idempotent).
    # Webhook deliveries whose task was lost are queued again; old notifications purged.
    "webhook-sweep": {"task": "weifei.notify.tasks.webhook_sweep", "schedule": 300.0},
    "notify-purge": {"task": "weifei.notify.tasks.notify_purge", "schedule": 24 * 3600.0},
    # Cross-province approval steps: deemed acceptance and overdue findings (working days).
    "approvals-sweep": {"task": "weifei.approvals.tasks.approvals_sweep", "schedule": 3600.0},
    # Manifests not confirmed within 5 working days of arrival (第十八条).
    "manifests-sweep": {"task": "weifei.manifests.tasks.manifests_sweep", "schedule": 3600.0},
    "declarations-sweep": {"task": "weifei.plans.tasks_declarations.declarations_sweep", "schedule": 6 * 3600.0},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
