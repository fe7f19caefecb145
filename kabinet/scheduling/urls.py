"""Calendar URLs, mounted at /calendar/; each page module keeps its own patterns."""

from kabinet.scheduling.views import calendar, schedules

app_name = "scheduling"

urlpatterns = [*calendar.urlpatterns, *schedules.urlpatterns]
