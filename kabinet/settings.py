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
    "channels",
    "django_tasks",
    "django_tasks_db",
    "kabinet.core",
    "kabinet.accounts",
    "kabinet.audit",
    "kabinet.patients",
    "kabinet.scheduling",
    "kabinet.portal",
    "kabinet.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
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
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto and the number of proxies for the client address.
if _strict_bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
TRUSTED_PROXY_COUNT: int = _setting("TRUSTED_PROXY_COUNT", env.int, default=0)

# --- email ----------------------------------------------------------------------------------------------------
vars().update(_setting("EMAIL_URL", env.email_url, default="consolemail://"))
DEFAULT_FROM_EMAIL: str = _setting("DEFAULT_FROM_EMAIL", env.str, default="kabinet <no-reply@kabinet.localhost>")

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
    },
}

# --- health ---------------------------------------------------------------------------------------------------
HEARTBEAT_INTERVAL_SECONDS: int = _setting("HEARTBEAT_INTERVAL_SECONDS", env.int, default=30)
HEARTBEAT_STALE_SECONDS: int = _setting("HEARTBEAT_STALE_SECONDS", env.int, default=120)

# --- demo -----------------------------------------------------------------------------------------------------
DEMO_PASSWORD: str = _setting("DEMO_PASSWORD", env.str, default="kabinet-demo-2026")
