"""The one place that reads the process environment."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("WEIFEI_VAR_DIR", BASE_DIR / "var"))

DEV_SECRET_KEY = "weifei-dev-only-not-a-secret"


def get(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def int_(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.strip().isdigit() else default


def csv(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


DATABASE_URL = get("DATABASE_URL")
CELERY_BROKER_URL = get("CELERY_BROKER_URL")
SECRET_KEY = get("WEIFEI_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = flag("WEIFEI_DEBUG", True)
ALLOWED_HOSTS = csv("WEIFEI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
