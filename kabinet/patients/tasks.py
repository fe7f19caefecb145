"""Background tasks of the patients app: running a patient-list import queued by patient_import_start."""

from __future__ import annotations

from django_tasks import task

from kabinet.patients.importing import patient_import_run


@task()
def import_patients(job_id: int) -> dict[str, int]:
    """Run the import job (idempotent: a job that already ran is left alone) and return its counts."""
    return patient_import_run(job_id).counts()
