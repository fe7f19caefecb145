"""Calendar pages: the staff calendar (calendar.py), schedules and hour norms (schedules.py), iCalendar feeds."""
