"""Document pages, mounted at /records/."""

from django.urls import path

from kabinet.records import medical_views, views

app_name = "records"

urlpatterns = [
    path("patients/<int:patient_id>/new/", views.document_new, name="new"),
    path("patients/<int:patient_id>/upload/", views.document_upload, name="upload"),
    path("documents/<int:document_id>/", views.document_detail, name="detail"),
    path("documents/<int:document_id>/edit/", views.document_edit, name="edit"),
    path("documents/<int:document_id>/sign/", views.document_sign, name="sign"),
    path("documents/<int:document_id>/erroneous/", views.document_erroneous, name="erroneous"),
    path("documents/<int:document_id>/delete/", views.document_delete, name="delete"),
    path("documents/<int:document_id>/share/", views.document_share, name="share"),
    path("documents/<int:document_id>/file/", views.document_file, name="file"),
    path("documents/<int:document_id>/view/", views.document_inline, name="inline"),
    path("patients/<int:patient_id>/medical/allergies/", medical_views.allergies_set, name="allergies"),
    path(
        "patients/<int:patient_id>/medical/medication/<int:entry_id>/stop/",
        medical_views.medication_stop,
        name="medication_stop",
    ),
    path("patients/<int:patient_id>/medical/<slug:kind>/", medical_views.medical_add, name="medical_add"),
    path(
        "patients/<int:patient_id>/medical/<slug:kind>/<int:entry_id>/",
        medical_views.medical_edit,
        name="medical_edit",
    ),
    path(
        "patients/<int:patient_id>/medical/<slug:kind>/<int:entry_id>/erroneous/",
        medical_views.medical_erroneous,
        name="medical_erroneous",
    ),
    path("patients/<int:patient_id>/photos/pairs/", medical_views.photo_pair_add, name="photo_pair_add"),
    path(
        "patients/<int:patient_id>/photos/pairs/<int:pair_id>/delete/",
        medical_views.photo_pair_remove,
        name="photo_pair_remove",
    ),
    path("missing/", views.missing, name="missing"),
    path("inbox/", views.inbox, name="inbox"),
]
