"""Patient pages, mounted at /patients/."""

from django.urls import path

from kabinet.patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("import/", views.import_start, name="import"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("import/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("import/<int:job_id>/errors.csv", views.import_errors, name="import_errors"),
    path("segments/", views.segment_save, name="segment_save"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment_delete"),
    path("<int:patient_id>/", views.patient_card, name="card"),
    path("<int:patient_id>/timeline/", views.patient_timeline, name="timeline"),
    path("<int:patient_id>/details/", views.patient_details, name="details"),
    path("<int:patient_id>/notes/", views.note_add, name="note_add"),
    path("<int:patient_id>/status/", views.status_set, name="status"),
    path("<int:patient_id>/tags/", views.tags_set, name="tags"),
    path("<int:patient_id>/phones/", views.phone_add, name="phone_add"),
    path("<int:patient_id>/phones/<int:phone_id>/delete/", views.phone_remove, name="phone_remove"),
    path("<int:patient_id>/emails/", views.email_add, name="email_add"),
    path("<int:patient_id>/emails/<int:email_id>/delete/", views.email_remove, name="email_remove"),
    path("<int:patient_id>/relatives/", views.relative_add, name="relative_add"),
    path("<int:patient_id>/relatives/<int:link_id>/delete/", views.relative_remove, name="relative_remove"),
    path("<int:patient_id>/relatives/candidates/", views.relative_candidates, name="relative_candidates"),
]
