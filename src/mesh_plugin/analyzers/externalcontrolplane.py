"""externalcontrolplane.ExternalControlPlaneAnalyzer: Istio webhooks of a remote cluster that cannot reach the
external control plane: no URL or service (IST0163), or an IP address instead of a hostname (IST0164)."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..kube.snapshot import name_of
from .base import Analyzer, Context
from .util import mapping, seq

DEFAULT_VALIDATOR = "istiod-default-validator"
VALIDATOR_PREFIX = "istio-validator"
INJECTOR_PREFIX = "istio-sidecar-injector"


def _hostname(url: str) -> str | None:
    """url.Parse(url).Hostname(), None when Go's parser would refuse the URL."""
    if any(ord(c) < 0x20 or c == " " and "://" not in url for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class ExternalControlPlaneAnalyzer(Analyzer):
    name = "externalcontrolplane.ExternalControlPlaneAnalyzer"
    description = "Checks that the remote IstioOperator resources reference an external control plane"
    inputs = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")

    def analyze(self, ctx: Context) -> None:
        for key in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for cfg in ctx.of(key):
                name = name_of(cfg)
                if key.startswith("Validating"):
                    if not name or not (name == DEFAULT_VALIDATOR or name.startswith(VALIDATOR_PREFIX)):
                        continue
                elif not name.startswith(INJECTOR_PREFIX):
                    continue
                for hook in seq(cfg.get("webhooks")):
                    hook = mapping(hook)
                    self._check(ctx, cfg, str(hook.get("name") or ""), mapping(hook.get("clientConfig")))

    @staticmethod
    def _check(ctx: Context, cfg: dict, hook: str, client: dict) -> None:
        url = client.get("url")
        if url is not None:
            host = _hostname(str(url))
            if host is None:
                ctx.report("IST0163", cfg, str(url), hook, "was provided in an invalid format")
            elif _is_ip(host):
                ctx.report("IST0164", cfg, str(url), hook)
        elif client.get("service") is None:
            ctx.report("IST0163", cfg, "", hook, "is blank")
