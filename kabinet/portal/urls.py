from django.urls import path

from kabinet.core import views as core_views
from kabinet.portal import documents, invoices, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("appointments/<int:appointment_id>/cancel/", views.appointment_cancel, name="appointment_cancel"),
    path("documents/", documents.documents, name="documents"),
    path("invoices/", invoices.invoices, name="invoices"),
    path("manifest.webmanifest", core_views.manifest, {"area": "portal"}, name="manifest"),
    path("sw.js", core_views.service_worker, {"area": "portal"}, name="service_worker"),
    path("offline/", core_views.offline, name="offline"),
]

# The public booking page lives at /book/ (outside the patient area: visitors need no account to look).
booking_urlpatterns = [
    path("", views.book_index, name="book_index"),
    path("<slug:slug>/", views.book, name="book"),
    path("<slug:slug>/done/<int:appointment_id>/", views.book_done, name="book_done"),
]
