"""Settings for kabinet, read from environment variables (and an optional `.env` file).

Defaults give the embedded set-up: SQLite in WAL mode, local-memory cache, in-memory channel layer.
Setting DATABASE_URL / REDIS_URL switches to PostgreSQL / Redis. Bad values stop the start with a message
that names the variable.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent

env = environ.Env()
_ENV_FILE = Path(os.environ.get("KABINET_ENV_FILE", BASE_DIR / ".env"))
if _ENV_FILE.is_file():
    environ.Env.read_env(_ENV_FILE, overwrite=False)


def _setting(name: str, reader: Any, **kwargs: Any) -> Any:
    """Read one variable with a typed reader; a malformed value fails loudly, naming the variable."""
    try:
        return reader(name, **kwargs)
    except Exception as exc:  # environ raises ValueError, TypeError or ImproperlyConfigured for malformed values
        raise ImproperlyConfigured(f"Environment variable {name} has an invalid value: {exc}") from exc


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _strict_bool(name: str, default: bool = False) -> bool:
    """Like env.bool, but a value that is neither true nor false is an error rather than False."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"Environment variable {name} must be true or false, not {raw!r}")
    return value in _TRUE


DEBUG: bool = _strict_bool("DEBUG", default=False)
SECRET_KEY: str = _setting("SECRET_KEY", env.str, default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Environment variable SECRET_KEY is not set. Put it in the environment or in .env "
        "(`make run` and `make test` create a .env with a random key)."
    )
ALLOWED_HOSTS: list[str] = _setting("ALLOWED_HOSTS", env.list, default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS: list[str] = _setting("CSRF_TRUSTED_ORIGINS", env.list, default=[])
SITE_URL: str = _setting("SITE_URL", env.str, default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "csp",
    "ninja",  # the API docs' Swagger UI from our own static files, not a CDN (the CSP allows no other origin)
    "channels",
    "django_tasks",
    "django_tasks_db",
    "kabinet.core",
    "kabinet.accounts",
    "kabinet.audit",
    "kabinet.patients",
    "kabinet.records",
    "kabinet.notifications",
    "kabinet.campaigns",
    "kabinet.scheduling",
    "kabinet.consultations",
    "kabinet.frontdesk",
    "kabinet.billing",
    "kabinet.portal",
    "kabinet.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kabinet.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kabinet.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kabinet.accounts.middleware.TwoFactorRequiredMiddleware",
    "kabinet.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "kabinet.urls"
WSGI_APPLICATION = "kabinet.wsgi.application"
ASGI_APPLICATION = "kabinet.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kabinet.core.context_processors.navigation",
                "kabinet.notifications.context_processors.bell",
                "kabinet.campaigns.context_processors.campaigns",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------------------------
(BASE_DIR / "var").mkdir(exist_ok=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # environ warns about unknown schemes; the check below names the variable
    DATABASES = {
        "default": _setting("DATABASE_URL", env.db_url, default=f"sqlite:///{BASE_DIR / 'var' / 'kabinet.sqlite3'}")
    }
_db = DATABASES["default"]
if _db.get("ENGINE") == "django.db.backends.sqlite3":
    # WAL lets readers proceed during a write; IMMEDIATE takes the write lock at BEGIN so two writers queue on the
    # busy timeout instead of failing with "database is locked" when one upgrades a read lock.
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; PRAGMA foreign_keys=ON;"
            ),
        }
    )
    _db["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}
elif _db.get("ENGINE") == "django.db.backends.postgresql":
    _db.setdefault("CONN_MAX_AGE", _setting("CONN_MAX_AGE", env.int, default=60))
    _db.setdefault("CONN_HEALTH_CHECKS", True)
else:
    raise ImproperlyConfigured("Environment variable DATABASE_URL must point to PostgreSQL or SQLite.")
_db["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, channels, tasks -----------------------------------------------------------------------------------
REDIS_URL: str = _setting("REDIS_URL", env.str, default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Connections per process for websockets; a burst beyond them waits for a free one (kabinet/core/channel_layers.py).
    # redis-py 8's default 5 s read timeout equals channels-redis's 5 s blocking receive, so a busy process's receive
    # would time out and kill its sockets: reads get 30 s.
    _redis_host = {
        "address": REDIS_URL,
        "max_connections": _setting("REDIS_MAX_CONNECTIONS", env.int, default=500),
        "timeout": 20,
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "kabinet.core.channel_layers.WaitingRedisChannelLayer",
            "CONFIG": {"hosts": [_redis_host]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TASKS = {
    "default": {
        "BACKEND": _setting("TASKS_BACKEND", env.str, default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# --- accounts & security --------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["kabinet.accounts.backends.EmailOrPhoneBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins per account and per client address within the window before 429.
LOGIN_FAILURE_LIMIT: int = _setting("LOGIN_FAILURE_LIMIT", env.int, default=5)
LOGIN_FAILURE_WINDOW_SECONDS: int = _setting("LOGIN_FAILURE_WINDOW_SECONDS", env.int, default=30 * 60)
PASSWORD_RESET_LIMIT_PER_HOUR: int = _setting("PASSWORD_RESET_LIMIT_PER_HOUR", env.int, default=2)
PASSWORD_RESET_CODE_TTL_SECONDS: int = _setting("PASSWORD_RESET_CODE_TTL_SECONDS", env.int, default=10 * 60)
ACTIVATION_CODE_TTL_SECONDS: int = _setting("ACTIVATION_CODE_TTL_SECONDS", env.int, default=72 * 3600)
ONE_TIME_CODE_MAX_ATTEMPTS: int = _setting("ONE_TIME_CODE_MAX_ATTEMPTS", env.int, default=5)
OTP_TOTP_ISSUER = "kabinet"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _strict_bool("SESSION_COOKIE_SECURE", default=not DEBUG and SITE_URL.startswith("https"))
CSRF_COOKIE_SECURE = _strict_bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)
# HTTPS in production (docs/security.md): redirect plain HTTP, then HSTS; all off by default for the local set-up.
SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS: int = _setting("SECURE_HSTS_SECONDS", env.int, default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _strict_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = _strict_bool("SECURE_HSTS_PRELOAD", default=False)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto and the number of proxies for the client address.
# (BEHIND_PROXY=true and SECURE_PROXY_SSL_HEADER=true are the same switch.)
if _strict_bool("BEHIND_PROXY", default=False) or _strict_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp). No inline scripts or event handlers anywhere: page code lives in static
# files. Style *attributes* stay allowed (style-src-attr) for the few `style="--tag: …"` colours the templates set;
# <style> elements are not (htmx's own indicator styles are turned off in base.html and live in kabinet.css).
# A view that lets the same site frame it (xframe_options_sameorigin) gets frame-ancestors 'self' to match
# (kabinet.core.middleware.SecurityHeadersMiddleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}
# Browser features: camera and microphone for this site only (video consultations), nothing else.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "camera": ["self"],
    "microphone": ["self"],
    "geolocation": [],
    "payment": [],
    "usb": [],
    "accelerometer": [],
    "gyroscope": [],
    "magnetometer": [],
}
TRUSTED_PROXY_COUNT: int = _setting("TRUSTED_PROXY_COUNT", env.int, default=0)

# --- email ----------------------------------------------------------------------------------------------------
vars().update(_setting("EMAIL_URL", env.email_url, default="consolemail://"))
DEFAULT_FROM_EMAIL: str = _setting("DEFAULT_FROM_EMAIL", env.str, default="kabinet <no-reply@kabinet.localhost>")

# --- notifications (outbox, SMS, web push; see README "Notifications") ------------------------------------------
# SMS_URL: empty (SMS off), console://, kannel://user:pass@host:13013/?from=kabinet, or http+json:// / http+form://
# / http+get:// (https+… too) for a commercial gateway with the SMS_HTTP_* options. Parsed at start-up.
SMS_URL: str = _setting("SMS_URL", env.str, default="")
SMS_FROM: str = _setting("SMS_FROM", env.str, default="")
SMS_DLR_TOKEN: str = _setting("SMS_DLR_TOKEN", env.str, default="")
SMS_HTTP_TEMPLATE: str = _setting("SMS_HTTP_TEMPLATE", env.str, default="")
SMS_HTTP_AUTH_HEADER: str = _setting("SMS_HTTP_AUTH_HEADER", env.str, default="")
SMS_HTTP_ID_FIELD: str = _setting("SMS_HTTP_ID_FIELD", env.str, default="id")
SMS_HTTP_IDEMPOTENCY_HEADER: str = _setting("SMS_HTTP_IDEMPOTENCY_HEADER", env.str, default="")
VAPID_PRIVATE_KEY: str = _setting("VAPID_PRIVATE_KEY", env.str, default="")
VAPID_PUBLIC_KEY: str = _setting("VAPID_PUBLIC_KEY", env.str, default="")
VAPID_SUBJECT: str = _setting("VAPID_SUBJECT", env.str, default="")
# Envelope sender for VERP bounce matching, e.g. bounces@clinic.example (mail to bounces+…@ must reach
# `manage.py notifications_bounce`); empty: DEFAULT_FROM_EMAIL, bounces matched by Message-ID only.
NOTIFICATIONS_BOUNCE_ADDRESS: str = _setting("NOTIFICATIONS_BOUNCE_ADDRESS", env.str, default="")
NOTIFICATIONS_MAX_ATTEMPTS: int = _setting("NOTIFICATIONS_MAX_ATTEMPTS", env.int, default=6)
NOTIFICATIONS_RETRY_SECONDS: int = _setting("NOTIFICATIONS_RETRY_SECONDS", env.int, default=60)
NOTIFICATIONS_LEASE_SECONDS: int = _setting("NOTIFICATIONS_LEASE_SECONDS", env.int, default=300)
NOTIFICATIONS_PROVIDER_TIMEOUT: int = _setting("NOTIFICATIONS_PROVIDER_TIMEOUT", env.int, default=30)
NOTIFICATIONS_BATCH: int = _setting("NOTIFICATIONS_BATCH", env.int, default=100)
# Senders (threads) sharing a dispatcher's batch: each waits for its own provider and database commit while the
# others work. A killed dispatcher leaves at most one message of unknown fate per sender.
NOTIFICATIONS_SENDERS: int = _setting("NOTIFICATIONS_SENDERS", env.int, default=1)
NOTIFICATIONS_TICK_SECONDS: int = _setting("NOTIFICATIONS_TICK_SECONDS", env.int, default=5)
# A silent mail server must not hold a dispatcher past its lease: SMTP gets the same timeout as the other providers.
EMAIL_TIMEOUT: int = NOTIFICATIONS_PROVIDER_TIMEOUT
if NOTIFICATIONS_PROVIDER_TIMEOUT * 2 >= NOTIFICATIONS_LEASE_SECONDS:
    raise ImproperlyConfigured("NOTIFICATIONS_LEASE_SECONDS must be more than twice NOTIFICATIONS_PROVIDER_TIMEOUT")

# --- consultations (see README "Consultations") -----------------------------------------------------------------
CONSULTATIONS_VOICE_MAX_BYTES: int = _setting("CONSULTATIONS_VOICE_MAX_BYTES", env.int, default=5 * 1024 * 1024)
CONSULTATIONS_VOICE_MAX_SECONDS: int = _setting("CONSULTATIONS_VOICE_MAX_SECONDS", env.int, default=300)
# A new message reaches the other side through the outbox only when they have not read it within this delay.
CONSULTATIONS_NOTIFY_AFTER_SECONDS: int = _setting("CONSULTATIONS_NOTIFY_AFTER_SECONDS", env.int, default=120)
CONSULTATIONS_SLA_CHECK_SECONDS: int = _setting("CONSULTATIONS_SLA_CHECK_SECONDS", env.int, default=60)
if min(CONSULTATIONS_VOICE_MAX_BYTES, CONSULTATIONS_VOICE_MAX_SECONDS, CONSULTATIONS_SLA_CHECK_SECONDS) <= 0:
    raise ImproperlyConfigured("CONSULTATIONS_VOICE_MAX_* and CONSULTATIONS_SLA_CHECK_SECONDS must be positive.")
# Video consultations (WebRTC): STUN/TURN servers for the browsers, as JSON, e.g.
# [{"urls": "stun:turn.example.org:3478"}, {"urls": ["turn:turn.example.org:3478?transport=udp"]}]. TURN entries
# without a credential get short-lived coturn credentials (use-auth-secret) made with VIDEO_TURN_SECRET.
VIDEO_ICE_SERVERS: list[dict[str, Any]] = _setting("VIDEO_ICE_SERVERS", env.json, default=[])
VIDEO_TURN_SECRET: str = _setting("VIDEO_TURN_SECRET", env.str, default="")
if not isinstance(VIDEO_ICE_SERVERS, list) or not all(
    isinstance(entry, dict) and entry.get("urls") for entry in VIDEO_ICE_SERVERS
):
    raise ImproperlyConfigured('Environment variable VIDEO_ICE_SERVERS must be a JSON list of {"urls": ...} objects.')

# --- i18n -----------------------------------------------------------------------------------------------------
LANGUAGE_CODE: str = _setting("LANGUAGE_CODE", env.str, default="en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian")), ("bg", _("Bulgarian"))]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured("Environment variable LANGUAGE_CODE must be one of: en, ru, bg.")
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE: str = _setting("TIME_ZONE", env.str, default="UTC")
USE_I18N = True
USE_TZ = True

# --- static & media -------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_ROOT = Path(_setting("MEDIA_ROOT", env.str, default=str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Uploaded documents and photos: larger files are refused with 413 (put the same limit on the proxy in front).
RECORDS_MAX_UPLOAD_BYTES: int = _setting("RECORDS_MAX_UPLOAD_BYTES", env.int, default=20 * 1024 * 1024)
if RECORDS_MAX_UPLOAD_BYTES <= 0:
    raise ImproperlyConfigured("Environment variable RECORDS_MAX_UPLOAD_BYTES must be a positive number of bytes.")

# --- logging: no personal data; requests are identified by request id ------------------------------------------
LOG_LEVEL: str = _setting("LOG_LEVEL", env.str, default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "kabinet.core.log_filters.RequestIdFilter"},
        "secret_paths": {"()": "kabinet.core.log_filters.SecretPathFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id", "secret_paths"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},  # PDF documents: progress steps at INFO
        "fontTools": {"level": "WARNING"},
    },
}

# --- health ---------------------------------------------------------------------------------------------------
HEARTBEAT_INTERVAL_SECONDS: int = _setting("HEARTBEAT_INTERVAL_SECONDS", env.int, default=30)
HEARTBEAT_STALE_SECONDS: int = _setting("HEARTBEAT_STALE_SECONDS", env.int, default=120)

# --- demo -----------------------------------------------------------------------------------------------------
DEMO_PASSWORD: str = _setting("DEMO_PASSWORD", env.str, default="kabinet-demo-2026")
