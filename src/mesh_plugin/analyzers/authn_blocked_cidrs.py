"""authn.BlockedCIDRsAnalyzer: RequestAuthentications exist but istiod does not restrict JWKS fetches (IST0175)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import containers, full_name, mapping, seq, spec
from ..kube.snapshot import labels_of

BLOCKED_CIDRS_ENV = "BLOCKED_CIDRS_IN_JWKS_URIS"


def format_names(names: list[str], limit: int = 5) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])}, and {len(names) - limit} more"


def istiod_blocked_cidrs(dep: dict) -> str | None:
    """The BLOCKED_CIDRS_IN_JWKS_URIS value an istiod Deployment sets (None when unset or empty)."""
    for c in containers(mapping(mapping(spec(dep).get("template")).get("spec")), init=False):
        for env in seq(c.get("env")):
            if isinstance(env, dict) and env.get("name") == BLOCKED_CIDRS_ENV and env.get("value"):
                return str(env["value"])
    return None


class BlockedCIDRsAnalyzer(Analyzer):
    name = "authn.BlockedCIDRsAnalyzer"
    description = ("Checks that BLOCKED_CIDRS_IN_JWKS_URIS is configured on istiod when RequestAuthentication "
                   "resources exist")
    inputs = ("RequestAuthentication", "Deployment")

    def analyze(self, ctx: Context) -> None:
        names = [full_name(ra) for ra in ctx.of("RequestAuthentication")]
        if not names:
            return
        for dep in ctx.of("Deployment"):
            if labels_of(dep).get("app") != "istiod" or istiod_blocked_cidrs(dep):
                continue
            ctx.report("IST0175", dep, len(names), format_names(names))
