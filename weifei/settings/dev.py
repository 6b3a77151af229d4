"""Development and demo settings (the default for the ``weifei`` command)."""

from .base import *  # noqa: F403
