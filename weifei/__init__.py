"""weifei (危废): hazardous-waste full-lifecycle supervision platform."""

from .celery import app as celery_app

__all__ = ["celery_app"]
