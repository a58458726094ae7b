"""One router module per resource: stance, models (and the admin model reload), labels, jobs (admin:
retrain), health (health, readiness, metrics)."""
