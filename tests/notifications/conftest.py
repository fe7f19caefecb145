"""Fixtures for notification tests: a scriptable local HTTP server (SMS gateway), a local web push service that
checks VAPID and decrypts payloads, VAPID keys, a real Kannel, and recipients."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kabinet.notifications.management.commands.notifications_vapid_keys import b64url, new_vapid_keys
from kabinet.notifications.models import ReminderPolicy
from tests.fixtures.http import serve
from tests.notifications.kannel import KannelGateway, kannel_installed, running_kannel

# --- web push -----------------------------------------------------------------------------------------------------


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class PushDevice:
    """A browser's side of a subscription: its keys, and the subscription JSON it would give the server."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    def info(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)}}


@dataclass
class PushService:
    """A push service on loopback: checks each request's VAPID JWT (ES256, against the configured public key) and
    decrypts the aes128gcm payload with the device's keys, as a browser would."""

    url: str
    vapid_public_key: str
    devices: dict[str, PushDevice] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    status_for: dict[str, int] = field(default_factory=dict)

    def device(self, name: str) -> PushDevice:
        device = PushDevice(
            endpoint=f"{self.url}/push/{name}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=bytes(range(16)),
        )
        self.devices[name] = device
        return device

    def verify(self, name: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        device = self.devices.get(name)
        if device is None:
            return 404, "no such subscription"
        match = re.fullmatch(r"vapid t=([^,\s]+),\s*k=(\S+)", headers.get("authorization", ""))
        if match is None:
            return 401, "no VAPID authorization"
        token, key = match.groups()
        if key != self.vapid_public_key:
            return 403, "unknown application server key"
        header_b64, claims_b64, signature_b64 = token.split(".")
        if json.loads(_b64decode(header_b64)) != {"typ": "JWT", "alg": "ES256"}:
            return 401, "not an ES256 JWT"
        claims = json.loads(_b64decode(claims_b64))
        if claims.get("aud") != self.url or claims.get("exp", 0) < time.time() or not claims.get("sub"):
            return 401, f"bad claims {claims}"
        signature = _b64decode(signature_b64)
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64decode(key))
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except Exception:
            return 401, "bad VAPID signature"
        if headers.get("content-encoding") != "aes128gcm" or "ttl" not in headers:
            return 400, "missing encryption headers"
        plain = http_ece.decrypt(body, private_key=device.private_key, auth_secret=device.auth_secret)
        self.received.append({"device": name, "payload": json.loads(plain), "headers": headers, "claims": claims})
        return self.status_for.get(name, 201), ""


@pytest.fixture
def vapid(settings: Any) -> tuple[str, str]:
    private, public = new_vapid_keys()
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = private, public
    settings.VAPID_SUBJECT = "mailto:ops@example.org"
    return private, public


@pytest.fixture
def push_service(vapid: tuple[str, str]) -> Iterator[PushService]:
    service = PushService(url="", vapid_public_key=vapid[1])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            name = self.path.rsplit("/", 1)[-1]
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, reason = service.verify(name, headers, body)
            if reason:
                service.refusals.append(reason)
            self.send_response(status)
            self.send_header("Content-Length", str(len(reason)))
            self.end_headers()
            self.wfile.write(reason.encode())

        def log_message(self, *args: Any) -> None:
            return None

    server, _thread = serve(Handler)
    service.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


# --- Kannel -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kannel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KannelGateway]:
    if not kannel_installed():
        # Fail, never skip: `make test` installs kannel and kannel-extras (see the Makefile's APT_PACKAGES).
        pytest.fail("Kannel is not installed: apt-get install kannel kannel-extras")
    directory: Path = tmp_path_factory.mktemp("kannel")
    with running_kannel(directory) as gateway:
        yield gateway


# --- recipients and policy ----------------------------------------------------------------------------------------


@pytest.fixture
def no_quiet_hours(org: Any) -> ReminderPolicy:
    policy, _ = ReminderPolicy.objects.get_or_create(organisation=org)
    policy.quiet_hours_start = policy.quiet_hours_end = None
    policy.save()
    return policy


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    def wait(predicate: Callable[[], Any], seconds: float = 10.0) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError("condition not met in time")

    return wait
