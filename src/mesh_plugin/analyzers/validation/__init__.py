"""Istio's schema validation (istio/istio ``pkg/config/validation`` at the pin), ported per kind.

``VALIDATORS[kind](name, namespace, spec, obj)`` returns a ``Validation``: the errors and warnings Istio's
``ValidateConfig`` would return for the object, one entry per error of Istio's multierror (the text
istioctl prints after "Schema validation error: "). What is not ported is listed in
tests/data/istio-analyze-grid/KNOWN-DIFFERENCES.md.
"""
from __future__ import annotations

from collections.abc import Callable

from .common import AnalysisAware, Validation

VALIDATORS: dict[str, Callable[[str, str, dict, dict], Validation]] = {}


def _register() -> None:
    from . import envoyfilter, extensions, networking, security  # noqa: F401  (each module registers its kinds)


_register()

__all__ = ["VALIDATORS", "Validation", "AnalysisAware"]
