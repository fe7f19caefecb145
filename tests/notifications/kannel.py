"""A real Kannel on loopback for tests: bearerbox + smsbox with a generated kannel.conf on free ports, and the fake
SMSC from kannel-extras (`fakesmsc`) that bearerbox hands messages to and that reports them delivered.

Kannel comes from Debian (`apt-get install kannel kannel-extras`; `make test` installs it). The sendsms user is
`kabinet` / `sendsms-secret`; SMS_URL for the adapter is `KannelGateway.sms_url`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from tests.fixtures import free_port

FAKESMSC_CANDIDATES = ("/usr/lib/kannel/test/fakesmsc", "/usr/libexec/kannel/test/fakesmsc")
USER, PASSWORD = "kabinet", "sendsms-secret"

CONFIG = """
group = core
admin-port = {admin_port}
admin-password = admin-secret
admin-interface = 127.0.0.1
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 0
access-log = "{dir}/access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 0

group = sendsms-user
username = {user}
password = {password}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = "received"
catch-all = yes
max-messages = 0
"""


def fakesmsc_path() -> str | None:
    for candidate in FAKESMSC_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def kannel_installed() -> bool:
    return bool(shutil.which("bearerbox") and shutil.which("smsbox") and fakesmsc_path())


@dataclass
class KannelGateway:
    sendsms_port: int
    admin_port: int
    directory: Path
    smsc_log: Path

    @property
    def sms_url(self) -> str:
        return f"kannel://{USER}:{PASSWORD}@127.0.0.1:{self.sendsms_port}/?from=kabinet"

    def smsc_received(self) -> str:
        """What the fake SMSC printed: one line per message bearerbox handed it ("from to text body")."""
        return self.smsc_log.read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.directory.glob("*.log"))
        )


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=1):  # noqa: S310 (a local URL we built)
                return True
        except URLError as exc:
            if getattr(exc, "code", None):  # any HTTP answer means it serves
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_kannel(directory: Path) -> Iterator[KannelGateway]:
    """bearerbox, smsbox and fakesmsc on free loopback ports, stopped afterwards."""
    fakesmsc = fakesmsc_path()
    assert fakesmsc is not None
    ports = {name: free_port() for name in ("admin_port", "smsbox_port", "smsc_port", "sendsms_port")}
    config = directory / "kannel.conf"
    config.write_text(CONFIG.format(dir=directory, user=USER, password=PASSWORD, **ports))
    smsc_log = directory / "fakesmsc.out"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with (directory / "bearerbox.out").open("wb") as out:
            processes.append(subprocess.Popen(["bearerbox", str(config)], stdout=out, stderr=subprocess.STDOUT))
        if not _wait_http(f"http://127.0.0.1:{ports['admin_port']}/status", 15):
            raise RuntimeError("bearerbox did not start")
        with (directory / "smsbox.out").open("wb") as out:
            processes.append(subprocess.Popen(["smsbox", str(config)], stdout=out, stderr=subprocess.STDOUT))
        with smsc_log.open("wb") as out:
            # One incoming message at start (answered by the catch-all service), then it just listens.
            command = [fakesmsc, "-H", "127.0.0.1", "-r", str(ports["smsc_port"]), "-i", "100000", "-m", "-1"]
            processes.append(
                subprocess.Popen([*command, "+359888000001 1234 text hello"], stdout=out, stderr=subprocess.STDOUT)
            )
        if not _wait_http(f"http://127.0.0.1:{ports['sendsms_port']}/", 15):
            raise RuntimeError("smsbox did not start")
        _wait_smsc_online(ports["admin_port"])
        yield KannelGateway(
            sendsms_port=ports["sendsms_port"], admin_port=ports["admin_port"], directory=directory, smsc_log=smsc_log
        )
    finally:
        for process in reversed(processes):
            _stop(process)


def _wait_smsc_online(admin_port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            url = f"http://127.0.0.1:{admin_port}/status.txt?password=admin-secret"
            with urlopen(url, timeout=1) as response:
                if "online" in response.read().decode(errors="replace"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the fake SMSC did not connect to bearerbox")
