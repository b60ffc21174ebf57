"""gateway.SecretAnalyzer: a Gateway's TLS credentialName Secret must exist where its pods run (IST0101)
and hold a usable certificate (IST0161).

Secret values never enter a snapshot (kube/snapshot.py keeps only ``dataKeys``), so the certificate check
uses what the snapshot can say without them: the key names, and, when the snapshot provides them,
``dataEmpty`` (keys whose value is empty) and ``certificates`` (per key: ``notBefore``/``notAfter`` of the
PEM certificate, or ``error`` when it does not parse). Without those two, a Secret with the right keys is
taken as valid (see tests/data/istio-analyze-grid/KNOWN-DIFFERENCES.md).
"""
from __future__ import annotations

import datetime as dt

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import mapping, selector_string, seq, short_or_full_name, spec, str_map

GENERIC = ("cert", "key")
TLS = ("tls.crt", "tls.key")


def _time(v: object) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def valid_secret(secret: dict, now: dt.datetime | None = None) -> bool:
    """credentials/kube.ExtractCertInfo + xds.ValidateCertificate, on the facts the snapshot keeps."""
    keys = set(str(k) for k in seq(secret.get("dataKeys")))
    if "dataKeys" not in secret:  # a raw object (not from a Snapshot): its data keys
        keys = set(str(k) for k in mapping(secret.get("data")))
    empty = set(str(k) for k in seq(secret.get("dataEmpty")))
    cert_key = None
    for pair in (GENERIC, TLS):
        if all(k in keys and k not in empty for k in pair):
            cert_key = pair[0]
            break
    if cert_key is None:
        return False
    facts = mapping(secret.get("certificates")).get(cert_key)
    if not isinstance(facts, dict):
        return True  # no certificate facts in this snapshot: the keys are all we can check
    if facts.get("error"):
        return False
    now = now or dt.datetime.now(dt.timezone.utc)
    nb, na = _time(facts.get("notBefore")), _time(facts.get("notAfter"))
    return not ((na is not None and now > na) or (nb is not None and now < nb))


class SecretAnalyzer(Analyzer):
    name = "gateway.SecretAnalyzer"
    description = "Checks a gateway's referenced secrets for correctness"
    inputs = ("Gateway", "Pod", "Secret")

    def analyze(self, ctx: Context) -> None:
        for gw in ctx.of("Gateway"):
            sel = str_map(spec(gw).get("selector"))
            pod = ctx.pods.first(None, sel)
            if pod is None:
                sel_str = selector_string(sel)
                label = sel_str.split("=", 1)[0] if "=" in sel_str else ""
                ctx.report("IST0101", gw, "selector", sel_str, path=f"{{.spec.selector.{label}}}")
                continue
            gw_ns = ns_of(pod)
            for i, server in enumerate(seq(spec(gw).get("servers"))):
                tls = mapping(mapping(server).get("tls"))
                cn = str(tls.get("credentialName") or "")
                if not cn:
                    continue
                ns, name = short_or_full_name(gw_ns, cn)
                secret = ctx.find("Secret", name, ns)
                path = f"{{.spec.servers[{i}].tls.credentialName}}"
                if secret is None:
                    ctx.report("IST0101", gw, "credentialName", cn, path=path)
                elif not valid_secret(secret):
                    ctx.report("IST0161", gw, gw.get("metadata", {}).get("name"), gw_ns, path=path)
