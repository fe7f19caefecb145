"""Backup and restore of the database and the uploaded files (MEDIA_ROOT) as one .tar.gz with a manifest.

The archive holds `manifest.json`, the database (`database.sqlite3`, made with SQLite's online backup API, safe
while the app writes in WAL mode; or `database.pgdump`, pg_dump's custom format) and `media.tar` (every uploaded
file). The manifest records the format, kabinet's version, the time, the database engine, the latest migration of
each app and the size and SHA-256 of each part; restore refuses an archive whose parts do not match it.

Restore overwrites: on SQLite it copies the backup into the database file through the backup API (so open
connections see the restored data, and the WAL stays consistent); on PostgreSQL pg_restore --clean replaces the
objects of the dump in one transaction. Uploaded files are put in place by renaming a fully extracted folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

FORMAT = 1
MANIFEST = "manifest.json"
MEDIA_PART = "media.tar"
PARTS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup or restore could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class Database:
    """Where a database lives: a SQLite file, or PostgreSQL connection parameters."""

    engine: str  # "sqlite" or "postgresql"
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, settings_dict: dict[str, Any]) -> Database:
        engine = settings_dict["ENGINE"]
        if engine == "django.db.backends.sqlite3":
            return cls("sqlite", str(settings_dict["NAME"]))
        if engine == "django.db.backends.postgresql":
            return cls(
                "postgresql",
                str(settings_dict["NAME"]),
                host=str(settings_dict.get("HOST") or ""),
                port=str(settings_dict.get("PORT") or ""),
                user=str(settings_dict.get("USER") or ""),
                password=str(settings_dict.get("PASSWORD") or ""),
            )
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {engine}.")

    @classmethod
    def from_url(cls, url: str) -> Database:
        import environ

        return cls.from_settings(environ.Env.db_url_config(url))

    @classmethod
    def default(cls) -> Database:
        return cls.from_settings(connections["default"].settings_dict)

    def pg_args(self) -> list[str]:
        args = ["--dbname", self.name]
        if self.host:
            args += ["--host", self.host]
        if self.port:
            args += ["--port", self.port]
        if self.user:
            args += ["--username", self.user]
        return args

    def pg_env(self) -> dict[str, str]:
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _version() -> str:
    try:
        return importlib.metadata.version("kabinet")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree without install
        return "unknown"


def _migrations() -> dict[str, str]:
    """The latest applied migration of each app, so a restore into another version can be told apart."""
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connections["default"]).applied_migrations():
        if name > latest.get(app, ""):
            latest[app] = name
    return dict(sorted(latest.items()))


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH. Install the PostgreSQL client programs (e.g. postgresql-client).")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")


# --- backup --------------------------------------------------------------------------------------------------------


def _dump_sqlite(db: Database, target: Path) -> None:
    source = sqlite3.connect(f"file:{db.name}?mode=ro", uri=True, timeout=30)
    destination = sqlite3.connect(target)
    try:
        with destination:
            source.backup(destination, pages=1024)  # steps of 1024 pages: writers are not held up for long
    finally:
        destination.close()
        source.close()


def _dump_postgresql(db: Database, target: Path) -> None:
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)]
    _run(command + db.pg_args(), db.pg_env())


def _pack_media(media_root: Path, target: Path) -> int:
    count = 0
    with tarfile.open(target, "w") as archive:
        if media_root.is_dir():
            for path in sorted(media_root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    archive.add(path, arcname=str(path.relative_to(media_root)), recursive=False)
                    count += 1
    return count


def backup_create(*, output_dir: Path, database: Database | None = None, media_root: Path | None = None) -> Path:
    """Write `kabinet-backup-<UTC time>.tar.gz` into `output_dir` and return its path."""
    db = database or Database.default()
    media = Path(media_root or settings.MEDIA_ROOT)
    output_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    final = output_dir / f"kabinet-backup-{now:%Y%m%d-%H%M%S}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="kabinet-backup-", dir=output_dir) as tmp:
        work = Path(tmp)
        db_part = work / PARTS[db.engine]
        if db.engine == "sqlite":
            _dump_sqlite(db, db_part)
        else:
            _dump_postgresql(db, db_part)
        media_part = work / MEDIA_PART
        files = _pack_media(media, media_part)
        manifest = {
            "format": FORMAT,
            "kabinet_version": _version(),
            "created_at": now.isoformat(),
            "engine": db.engine,
            "migrations": _migrations(),
            "parts": {
                "database": {"name": db_part.name, "size": db_part.stat().st_size, "sha256": sha256_of(db_part)},
                "media": {
                    "name": MEDIA_PART,
                    "size": media_part.stat().st_size,
                    "sha256": sha256_of(media_part),
                    "files": files,
                },
            },
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        partial = work / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            for name in (MANIFEST, db_part.name, MEDIA_PART):
                archive.add(work / name, arcname=name)
        os.replace(partial, final)  # the archive appears whole or not at all
    final.chmod(0o600)  # it holds every patient's data
    return final


# --- restore -------------------------------------------------------------------------------------------------------


@contextmanager
def opened(archive_path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """Unpack the archive into a temporary folder and check every part against the manifest."""
    if not archive_path.is_file():
        raise BackupError(f"No backup file at {archive_path}.")
    with tempfile.TemporaryDirectory(prefix="kabinet-restore-") as tmp:
        work = Path(tmp)
        try:
            with tarfile.open(archive_path, "r:gz") as archive:
                names = set(archive.getnames())
                allowed = {MANIFEST, MEDIA_PART, *PARTS.values()}
                if MANIFEST not in names or names - allowed:
                    raise BackupError(f"{archive_path} is not a kabinet backup (unexpected contents).")
                archive.extractall(work, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{archive_path} cannot be read: {exc}") from exc
        try:
            manifest = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
            parts = manifest["parts"]
        except (ValueError, KeyError) as exc:
            raise BackupError(f"The manifest of {archive_path} is damaged.") from exc
        if manifest.get("format") != FORMAT:
            raise BackupError(f"Backup format {manifest.get('format')} is not supported (this version reads {FORMAT}).")
        for label, part in parts.items():
            path = work / str(part["name"])
            if part["name"] not in allowed or not path.is_file():
                raise BackupError(f"The backup has no {label} part.")
            if sha256_of(path) != part["sha256"] or path.stat().st_size != part["size"]:
                raise BackupError(
                    f"The {label} part of {archive_path} does not match its checksum: the file is damaged or was "
                    "changed. Nothing was restored."
                )
        yield manifest, work


def _restore_sqlite(source_file: Path, db: Database) -> None:
    connections.close_all()
    target = Path(db.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{source_file}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=30)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _restore_postgresql(dump: Path, db: Database) -> None:
    connections.close_all()
    command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"]
    _run([*command, *db.pg_args(), str(dump)], db.pg_env())


def _restore_media(media_tar: Path, media_root: Path) -> None:
    """Extract next to MEDIA_ROOT, then swap folders, so a failure leaves the current files as they were."""
    media_root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=media_root.parent))
    with tarfile.open(media_tar, "r") as archive:
        archive.extractall(staging, filter="data")
    previous = media_root.with_name(media_root.name + ".before-restore")
    if previous.exists():
        shutil.rmtree(previous)
    if media_root.exists():
        media_root.rename(previous)
    staging.rename(media_root)
    if previous.exists():
        shutil.rmtree(previous)


def backup_restore(
    *, archive_path: Path, database: Database | None = None, media_root: Path | None = None
) -> dict[str, Any]:
    """Replace the database and the uploaded files with the archive's; returns its manifest."""
    db = database or Database.default()
    media = Path(media_root or settings.MEDIA_ROOT)
    with opened(archive_path) as (manifest, work):
        if manifest.get("engine") != db.engine:
            raise BackupError(
                f"This backup is of a {manifest.get('engine')} database; the target is {db.engine}. "
                "Restore into the same kind of database (then move data with dumpdata/loaddata if needed)."
            )
        db_part = work / manifest["parts"]["database"]["name"]
        if db.engine == "sqlite":
            _restore_sqlite(db_part, db)
        else:
            _restore_postgresql(db_part, db)
        _restore_media(work / manifest["parts"]["media"]["name"], media)
    return dict(manifest)
