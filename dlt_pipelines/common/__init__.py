"""Shared plumbing: settings, warehouse connection, logging, audit, HTTP resilience."""
