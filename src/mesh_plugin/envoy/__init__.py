"""Sidecar admin access (port 15000) through the API server's pod proxy."""
from .admin import ADMIN_PORT, fetch_admin, redact_config_dump

__all__ = ["ADMIN_PORT", "fetch_admin", "redact_config_dump"]
