"""Front-desk use cases, one module per topic: worklists (confirmation calls and attempts), waitlist (entries,
offers of freed times), arrivals, refusals, recall (diary and passive list) and next_visit. Each public function is
one transaction: checked, audited, written to the patient's timeline."""
