"""Metrics: the Prometheus HTTP API (direct URL, or through the API server's service proxy)."""
from .prometheus import Prometheus, label_value, prometheus_for

__all__ = ["Prometheus", "label_value", "prometheus_for"]
