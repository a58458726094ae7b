"""One router module per resource: stance, models, health (health, readiness, metrics)."""
