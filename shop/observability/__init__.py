"""Observability (issue 16): Prometheus metrics, health checks, the admin's provider health panel (README, "Observability")."""
