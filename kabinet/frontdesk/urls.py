"""Front-desk pages, mounted at /frontdesk/."""

from django.urls import path

from kabinet.frontdesk.views import lists, reports, settings, visits

app_name = "frontdesk"

urlpatterns = [
    path("", lists.board, name="board"),
    path("board/", lists.board_panel, name="board_panel"),
    path("confirmations/", lists.worklist_page, {"kind": "confirmations"}, name="confirmations"),
    path("waitlist/", lists.waitlist_page, name="waitlist"),
    path("recall/", lists.worklist_page, {"kind": "recall"}, name="recall"),
    path("generate/<str:kind>/", lists.generate, name="generate"),
    path("items/<int:item_id>/attempt/", lists.attempt, name="attempt"),
    path("waitlist/add/", lists.waitlist_add, name="waitlist_add"),
    path("waitlist/<int:entry_id>/remove/", lists.waitlist_remove, name="waitlist_remove"),
    path("waitlist/patients/", lists.patient_search, name="patient_search"),
    path("reports/", reports.reports, name="reports"),
    path("settings/", settings.settings_page, name="settings"),
    path("visits/<int:appointment_id>/next/", visits.next_visit, name="next_visit"),
    path("visits/<int:appointment_id>/card.pdf", visits.visit_card_pdf, name="visit_card_pdf"),
    path("visits/<int:appointment_id>/card/sms/", visits.visit_card_sms, name="visit_card_sms"),
]
