"""validateMetadata: what Istio checks on every kind's metadata before its own validation."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from .common import Validation, m, s

DRY_RUN = "istio.io/dry-run"
ALWAYS_REJECT = "internal.istio.io/webhook-always-reject"
INTERNAL_PARENT_NAMESPACE = "internal.istio.io/parent-namespace"
INTERNAL_PARENT_NAMES = "internal.istio.io/parents"
_BOOLS = ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")

Validator = Callable[[str, str, dict, dict], Validation]


def with_metadata(kind: str) -> Callable[[Validator], Validator]:
    def wrap(fn: Validator) -> Validator:
        @wraps(fn)
        def validate(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
            ann = m(m(obj.get("metadata")).get("annotations"))
            if DRY_RUN in ann:
                if kind != "AuthorizationPolicy":
                    return Validation(errors=[f"{namespace}/{name} has unsupported annotation {DRY_RUN}, please "
                                              "remove the annotation"])
                action = s(spec.get("action")) or "ALLOW"
                val = s(ann[DRY_RUN])
                if action in ("ALLOW", "DENY"):
                    if val not in _BOOLS:
                        return Validation(errors=[f"{namespace}/{name} has annotation {DRY_RUN} with invalid value "
                                                  f"({val}): strconv.ParseBool: parsing \"{val}\": invalid syntax"])
                else:
                    return Validation(errors=[f"the annotation {DRY_RUN} currently only supports action ALLOW/DENY, "
                                              f"found action {action} in {namespace}/{name}"])
            for key, text in ((ALWAYS_REJECT, "annotation found, rejecting"),
                              (INTERNAL_PARENT_NAMESPACE, "annotation found, this may not be set by users"),
                              (INTERNAL_PARENT_NAMES, "annotation found, this may not be set by users")):
                if key in ann:
                    return Validation(errors=[f'"{key}" {text}'])
            return fn(name, namespace, spec, obj)
        return validate
    return wrap
