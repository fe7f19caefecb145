"""Document pages, mounted at /records/."""

from django.urls import path

from kabinet.records import views

app_name = "records"

urlpatterns = [
    path("patients/<int:patient_id>/new/", views.document_new, name="new"),
    path("patients/<int:patient_id>/upload/", views.document_upload, name="upload"),
    path("documents/<int:document_id>/", views.document_detail, name="detail"),
    path("documents/<int:document_id>/edit/", views.document_edit, name="edit"),
    path("documents/<int:document_id>/erroneous/", views.document_erroneous, name="erroneous"),
    path("documents/<int:document_id>/delete/", views.document_delete, name="delete"),
    path("documents/<int:document_id>/share/", views.document_share, name="share"),
    path("documents/<int:document_id>/file/", views.document_file, name="file"),
    path("documents/<int:document_id>/view/", views.document_inline, name="inline"),
    path("missing/", views.missing, name="missing"),
    path("inbox/", views.inbox, name="inbox"),
]
