"""Production settings pass `manage.py check --deploy`; every response carries the security headers; cookies are
HttpOnly/SameSite (and Secure in production); no template relies on inline script the CSP would block."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from pytest_django import Settings

from kabinet.accounts.models import User

PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "clinic.example.org",
    "SITE_URL": "https://clinic.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://clinic.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "BEHIND_PROXY": "true",
}


def _check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` in a fresh process with only these variables (no .env file)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DATABASE_URL", "TMPDIR")}
    base.update(KABINET_ENV_FILE=os.devnull, SECRET_KEY=secrets.token_urlsafe(60), **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy_without_a_warning() -> None:
    result = _check_deploy(**PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_notices_missing_production_settings() -> None:
    """The check is live: without the production settings it fails, naming each one."""
    missing = {
        "SECURE_HSTS_SECONDS": ("0", "security.W004"),
        "SECURE_SSL_REDIRECT": ("false", "security.W008"),
        "SESSION_COOKIE_SECURE": ("false", "security.W012"),
        "DEBUG": ("true", "security.W018"),
    }
    result = _check_deploy(**{**PRODUCTION_ENV, **{name: value for name, (value, _) in missing.items()}})
    assert result.returncode != 0
    for _value, warning in missing.values():
        assert warning in result.stdout + result.stderr


# --- server entry points -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry_point", ["kabinet.asgi", "kabinet.wsgi"])
def test_server_entry_points_load_the_urls_and_freeze_start_up_objects(entry_point: str) -> None:
    """Before the first request the URL modules (views, API schemas) are loaded and everything loaded so far is out
    of the garbage collector's generations, so full collections no longer re-scan it (kabinet/serving.py)."""
    probe = (
        f"import gc, sys, {entry_point}; "
        "print(gc.get_freeze_count(), len(gc.get_objects()), 'kabinet.scheduling.api' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DATABASE_URL", "TMPDIR")}
    env.update(KABINET_ENV_FILE=os.devnull, SECRET_KEY=secrets.token_urlsafe(60))
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    frozen, tracked, urls_loaded = result.stdout.split()
    assert int(frozen) > 50_000 and int(tracked) < 1_000
    assert urls_loaded == "True"


# --- headers on real responses -------------------------------------------------------------------------------------

EXPECTED_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self' ws: wss:",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}


def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


def _assert_security_headers(response: object, *, frame_ancestors: str = "'none'") -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = csp_directives(headers["Content-Security-Policy"])
    for name, value in {**EXPECTED_CSP, "frame-ancestors": frame_ancestors}.items():
        assert csp.get(name) == value, (name, csp)
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = headers["Permissions-Policy"]
    assert "camera=(self)" in policy and "microphone=(self)" in policy and "geolocation=()" in policy


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",  # a page
        "/",  # a redirect to the login page
        "/api/v1/me",  # an API error (401 problem+json)
        "/api/v1/openapi.json",  # API JSON
        "/api/v1/docs",  # Swagger UI (served from our static files)
        "/healthz",
        "/sw.js",
        "/no-such-page/",  # 404
    ],
)
def test_every_response_carries_the_security_headers(client: Client, path: str) -> None:
    response = client.get(path)
    _assert_security_headers(response)
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_logged_in_pages_carry_the_headers(admin_user: User, client: Client) -> None:
    client.force_login(admin_user)
    for path in ("/", "/patients/", "/calendar/", "/my/"):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        _assert_security_headers(response)


def test_a_view_that_allows_same_site_framing_gets_frame_ancestors_self(rf: RequestFactory) -> None:
    """The document viewer is framed by our own pages (xframe_options_sameorigin); CSP must agree, or browsers
    (which prefer frame-ancestors over X-Frame-Options) would refuse it."""
    from django.http import HttpRequest, HttpResponse
    from django.views.decorators.clickjacking import xframe_options_sameorigin

    from kabinet.core.middleware import SecurityHeadersMiddleware

    @xframe_options_sameorigin
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    response = SecurityHeadersMiddleware(view)(rf.get("/"))
    assert response._csp_replace == {"frame-ancestors": ["'self'"]}  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_hsts_on_https_in_production(client: Client, settings: Settings) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_in_production(client: Client, settings: Settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_httponly_samesite_and_secure_in_production(
    admin_user: User, client: Client, settings: Settings, password: str
) -> None:
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    page = client.get("/accounts/login/", secure=True)
    csrf = page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    response = client.post(
        "/accounts/login/", {"login": admin_user.email, "password": password}, secure=True, REMOTE_ADDR="10.1.1.1"
    )
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["secure"] and session["samesite"] == "Lax"


# --- the templates obey the CSP ------------------------------------------------------------------------------------

_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
_EVENT_HANDLER = re.compile(r"\s(on[a-z]+)\s*=\s*[\"']", re.I)
_JS_URL = re.compile(r"(?:href|src|action)\s*=\s*[\"']\s*javascript:", re.I)


def _templates() -> list[Path]:
    """Templates browsers render (PDF and email templates are not served as pages)."""
    every = (Path(settings.BASE_DIR) / "kabinet").rglob("templates/**/*.html")
    return sorted(p for p in every if not {"pdf", "email"} & set(p.parts))


def test_no_template_has_inline_script_or_event_handlers() -> None:
    """script-src 'self' blocks inline <script> blocks, on…= handlers and javascript: URLs: page code lives in
    static files (see kabinet/static/core/forms.js for data-autosubmit)."""
    found = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for pattern in (_INLINE_SCRIPT, _EVENT_HANDLER, _JS_URL):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(settings.BASE_DIR)}:{line}: {match.group(0).strip()}")
    assert not found, "\n".join(found)


def test_no_template_has_a_style_element() -> None:
    """style-src 'self' refuses <style> elements (style attributes stay allowed by style-src-attr)."""
    found = [str(p) for p in _templates() if re.search(r"<style\b", p.read_text(encoding="utf-8"), re.I)]
    assert not found, found
