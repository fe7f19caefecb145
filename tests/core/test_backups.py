"""`manage.py backup` / `restore`: a populated database and its uploaded files round-trip table by table and file by
file, on SQLite and on PostgreSQL (whichever DATABASE_URL names); a damaged archive is refused."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from pytest_django import Settings

from kabinet.audit.models import AuditEvent
from kabinet.core.backups import Database, backup_create
from kabinet.patients import services as patient_services
from kabinet.patients.models import Patient
from kabinet.scheduling.services import appointment_book
from tests.fixtures.clinic import Clinic

pytestmark = pytest.mark.django_db(transaction=True)

RESTORE_DB = "kabinet_hard_restore"  # the one extra PostgreSQL database these tests may create and drop


def _url(db: Database) -> str:
    if db.engine == "sqlite":
        return f"sqlite:///{db.name}"
    credentials = quote(db.user, safe="") + (":" + quote(db.password, safe="") if db.password else "")
    return f"postgres://{credentials}@{db.host or '127.0.0.1'}:{db.port or 5432}/{db.name}"


def _pg_connect(db: Database, name: str | None = None) -> Any:
    import psycopg

    return psycopg.connect(
        dbname=name or db.name,
        host=db.host or None,
        port=db.port or None,
        user=db.user or None,
        password=db.password or None,
        autocommit=True,
    )


def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table, read with the database driver itself (not the ORM), in a stable order."""
    if db.engine == "sqlite":
        conn: Any = sqlite3.connect(db.name)
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        conn = _pg_connect(db)
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    try:
        tables = sorted(row[0] for row in conn.execute(query).fetchall())
        return {t: sorted(repr(tuple(row)) for row in conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables}
    finally:
        conn.close()


def files_of(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def media(tmp_path: Path, settings: Settings) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def populated(clinic: Clinic, ward: Patient, media: Path) -> Clinic:
    """Patients, a family link, an appointment, notes (with their audit events) and uploaded files."""
    appointment_book(
        actor=clinic.registrar,
        patient=clinic.patient,
        practitioner=clinic.doctor,
        service=clinic.service,
        start=clinic.at(9, 30),
    )
    patient_services.note_add(actor=clinic.registrar, patient=clinic.patient, text="Allergic to latex — Ёлка ✓")
    patient_services.patient_phone_add(actor=clinic.registrar, patient=clinic.patient, number="+359881234567")
    default_storage.save("records/1/scan.pdf", ContentFile(b"%PDF-1.7\n" + os.urandom(4096)))
    default_storage.save("records/2/photo.jpg", ContentFile(b"\xff\xd8\xff" + os.urandom(2048)))
    assert AuditEvent.objects.count() >= 3
    return clinic


@pytest.fixture
def scratch_database(tmp_path: Path) -> Iterator[Database]:
    """An empty database of the same engine to restore into."""
    source = Database.default()
    if source.engine == "sqlite":
        yield Database("sqlite", str(tmp_path / "restored.sqlite3"))
        return
    admin = _pg_connect(source, "postgres")
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{RESTORE_DB}"')
        admin.execute(f'CREATE DATABASE "{RESTORE_DB}"')
        yield Database(**{**source.__dict__, "name": RESTORE_DB})
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{RESTORE_DB}" WITH (FORCE)')
        admin.close()


def _manage(*args: str, database: Database) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KABINET_ENV_FILE": os.devnull,
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": _url(database),
        "CONN_MAX_AGE": "0",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _backup(tmp_path: Path) -> Path:
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=open(os.devnull, "w"))  # noqa: SIM115
    (archive,) = (tmp_path / "backups").glob("kabinet-backup-*.tar.gz")
    return archive


def test_a_backup_restores_every_table_and_file_and_the_audit_chain_verifies(
    populated: Clinic, media: Path, tmp_path: Path, scratch_database: Database
) -> None:
    source = Database.default()
    before_rows, before_files = snapshot(source), files_of(media)
    archive = _backup(tmp_path)
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds patient data: owner-only permissions"

    restored_media = tmp_path / "restored-media"
    call_command(
        "restore",
        str(archive),
        "--noinput",
        "--database-url",
        _url(scratch_database),
        "--media-root",
        str(restored_media),
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )

    after = snapshot(scratch_database)
    assert sorted(after) == sorted(before_rows)
    different = [table for table in before_rows if after[table] != before_rows[table]]
    assert not different, f"tables that differ after the restore: {different}"
    assert before_rows["patients_patient"] and before_rows["audit_auditevent"]
    assert files_of(restored_media) == before_files and len(before_files) == 2
    verified = _manage("audit_verify", database=scratch_database)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain intact" in verified.stdout


def test_the_manifest_names_version_time_engine_and_checksums(populated: Clinic, tmp_path: Path) -> None:
    archive = _backup(tmp_path)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(["manifest.json", "media.tar", _db_part()])
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        for part in manifest["parts"].values():
            data = tar.extractfile(part["name"]).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == part["sha256"]
    assert manifest["format"] == 1 and manifest["kabinet_version"] and manifest["created_at"]
    assert manifest["engine"] == Database.default().engine
    assert manifest["parts"]["media"]["files"] == 2
    assert "audit" in manifest["migrations"]


def _db_part() -> str:
    return "database.sqlite3" if connection.vendor == "sqlite" else "database.pgdump"


def test_restore_in_place_undoes_later_changes(populated: Clinic, media: Path, tmp_path: Path) -> None:
    before_rows, before_files = snapshot(Database.default()), files_of(media)
    archive = _backup(tmp_path)
    patient_services.note_add(actor=populated.registrar, patient=populated.patient, text="written after the backup")
    default_storage.save("records/3/late.pdf", ContentFile(b"%PDF-1.7 late"))
    call_command("restore", str(archive), "--noinput", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert snapshot(Database.default()) == before_rows
    assert files_of(media) == before_files
    assert not Patient.objects.filter(notes__text="written after the backup").exists()


def _rewrite(archive: Path, target: Path, *, change: str) -> None:
    """Copy the archive with one byte of part `change` flipped (the manifest left as it was)."""
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = bytearray(src.extractfile(member).read())  # type: ignore[union-attr]
            if member.name == change:
                data[len(data) // 2] ^= 0xFF
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            import io

            dst.addfile(info, io.BytesIO(bytes(data)))


@pytest.mark.parametrize("part", ["database", "media.tar"])
def test_restore_refuses_an_archive_with_a_bad_checksum_and_changes_nothing(
    populated: Clinic, media: Path, tmp_path: Path, part: str
) -> None:
    archive = _backup(tmp_path)
    damaged = tmp_path / "damaged.tar.gz"
    _rewrite(archive, damaged, change=_db_part() if part == "database" else part)
    patient_services.note_add(actor=populated.registrar, patient=populated.patient, text="kept")
    before_rows, before_files = snapshot(Database.default()), files_of(media)
    with pytest.raises(CommandError, match="checksum"):
        call_command("restore", str(damaged), "--noinput")
    assert snapshot(Database.default()) == before_rows
    assert files_of(media) == before_files


def test_restore_refuses_a_file_that_is_not_a_backup(populated: Clinic, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(__file__, arcname="../../etc/passwd")
    with pytest.raises(CommandError, match="not a kabinet backup"):
        call_command("restore", str(bogus), "--noinput")
    with pytest.raises(CommandError, match="No backup file"):
        call_command("restore", str(tmp_path / "missing.tar.gz"), "--noinput")


def test_restore_refuses_a_backup_of_the_other_engine(populated: Clinic, tmp_path: Path) -> None:
    archive = _backup(tmp_path)
    other = "postgres://nobody@127.0.0.1:1/none" if connection.vendor == "sqlite" else f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(CommandError, match="Restore into the same kind of database"):
        call_command("restore", str(archive), "--noinput", "--database-url", other)


def test_backup_while_the_app_writes_is_consistent(populated: Clinic, tmp_path: Path) -> None:
    """SQLite: the online backup API copies a consistent state even with a write transaction open elsewhere."""
    if connection.vendor != "sqlite":
        pytest.skip("pg_dump takes a snapshot; SQLite's online backup is the one to prove")
    writer = sqlite3.connect(Database.default().name, timeout=30)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE patients_patient SET given_name = 'uncommitted'")
    try:
        archive = backup_create(output_dir=tmp_path / "online")
    finally:
        writer.rollback()
        writer.close()
    with tarfile.open(archive) as tar:
        tar.extract("database.sqlite3", tmp_path, filter="data")
    copy = sqlite3.connect(tmp_path / "database.sqlite3")
    names = {row[0] for row in copy.execute("SELECT given_name FROM patients_patient")}
    copy.close()
    assert "uncommitted" not in names and names
