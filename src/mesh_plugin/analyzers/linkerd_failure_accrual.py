"""mesh.linkerd.FailureAccrualAnalyzer (MESH): balancer.linkerd.io failure-accrual annotations Linkerd cannot use."""
from __future__ import annotations

import re

from ..kube.snapshot import annotations_of
from .base import Analyzer, Context

PREFIX = "balancer.linkerd.io/failure-accrual"
_DURATION = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h))+$")


def check_failure_accrual(annotations: dict[str, str]) -> list[tuple[str, str]]:
    """(annotation, problem) for every invalid failure-accrual annotation. Shared with the resilience tools."""
    out = []
    mode = annotations.get(PREFIX)
    params = {k: v for k, v in annotations.items() if k.startswith(PREFIX + "-")}
    if mode is not None and mode != "consecutive":
        out.append((PREFIX, f"{mode!r}: the only supported mode is 'consecutive'"))
    if params and mode is None:
        for k in sorted(params):
            out.append((k, f"has no effect without {PREFIX}: consecutive"))
    for k, v in sorted(params.items()):
        suffix = k[len(PREFIX) + 1:]
        if suffix == "consecutive-max-failures":
            if not str(v).isdigit() or int(v) < 1:
                out.append((k, f"{v!r} is not a positive integer"))
        elif suffix in ("consecutive-min-penalty", "consecutive-max-penalty"):
            if not _DURATION.match(str(v)):
                out.append((k, f"{v!r} is not a duration like 1s or 60s"))
        elif suffix == "consecutive-jitter-ratio":
            try:
                ratio = float(v)
                if not 0.0 <= ratio <= 100.0:
                    raise ValueError
            except ValueError:
                out.append((k, f"{v!r} is not a number between 0 and 100"))
        else:
            out.append((k, "unknown failure-accrual parameter"))
    return out


class FailureAccrualAnalyzer(Analyzer):
    name = "mesh.linkerd.FailureAccrualAnalyzer"
    aliases = ("linkerd.FailureAccrualAnalyzer",)
    description = "Checks balancer.linkerd.io/failure-accrual annotations on Services are valid"
    inputs = ("Service",)

    def analyze(self, ctx: Context) -> None:
        for svc in ctx.of("Service"):
            for ann, problem in check_failure_accrual(annotations_of(svc)):
                ctx.report("MESH0502", svc, ann, problem)
