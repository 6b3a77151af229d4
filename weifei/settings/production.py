"""Production settings: refuse to start with DEBUG on or the development secret."""

from django.core.exceptions import ImproperlyConfigured

from . import env
from .base import *  # noqa: F403

if env.DEBUG:
    raise ImproperlyConfigured("生产环境不得开启 DEBUG：请设置 WEIFEI_DEBUG=0。")
if env.SECRET_KEY == env.DEV_SECRET_KEY or len(env.SECRET_KEY) < 32:
    raise ImproperlyConfigured("生产环境必须通过 WEIFEI_SECRET_KEY 提供至少 32 个字符的密钥。")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
