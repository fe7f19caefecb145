"""kabinet: clinic CRM and patient-engagement platform."""
