"""The operations service: on-demand syncs, signed webhooks, metrics (docs/ops-service.md)."""
