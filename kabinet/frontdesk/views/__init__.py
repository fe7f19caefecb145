"""Front-desk pages: the day's board and the worklists (lists.py), reports (reports.py), the next visit and its
card (visits.py), and the patient's page for a waiting-list offer (offers.py)."""
