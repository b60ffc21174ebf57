"""webhook.Analyzer: Istio injection webhooks that overlap, so a pod could be injected twice (IST0139), or that
call a control-plane Service that does not exist (IST0139)."""
from __future__ import annotations

from ..kube.snapshot import labels_of
from .base import Analyzer, Context
from .util import REVISION_LABEL, full_name, label_selector_matches, mapping, seq

NAMESPACE_LABELS = ({}, {"istio-injection": "enabled"}, {"istio-injection": "disabled"})
OBJECT_LABELS = ({}, {"sidecar.istio.io/inject": "true"}, {"sidecar.istio.io/inject": "false"})


def revisions(cfg: dict) -> list[str]:
    revs: list[str] = []
    if REVISION_LABEL in labels_of(cfg):
        revs.append(str(labels_of(cfg)[REVISION_LABEL]))
    for wh in seq(cfg.get("webhooks")):
        wh = mapping(wh)
        for field in ("namespaceSelector", "objectSelector"):
            sel = wh.get(field)
            if not isinstance(sel, dict):
                continue
            ml = mapping(sel.get("matchLabels"))
            if REVISION_LABEL in ml:
                revs.append(str(ml[REVISION_LABEL]))
            for expr in seq(sel.get("matchExpressions")):
                if mapping(expr).get("key") == REVISION_LABEL:
                    revs += [str(v) for v in seq(mapping(expr).get("values"))]
    return list(dict.fromkeys(revs))


class WebhookAnalyzer(Analyzer):
    name = "webhook.Analyzer"
    description = "Checks the validity of Istio webhooks"
    inputs = ("MutatingWebhookConfiguration", "Service")

    def analyze(self, ctx: Context) -> None:
        hooks: dict[str, list[dict]] = {}
        owners: dict[str, dict] = {}
        all_revs: list[str] = []
        for cfg in ctx.of("MutatingWebhookConfiguration"):
            revs = revisions(cfg)
            whs = [mapping(w) for w in seq(cfg.get("webhooks"))]
            if not revs and not any(str(w.get("name") or "").endswith("istio.io") for w in whs):
                continue
            hooks[full_name(cfg)] = whs
            for w in whs:
                owners[f"{full_name(cfg)}/{w.get('name') or ''}"] = cfg
            all_revs += [r for r in revs if r not in all_revs]
        ns_sets = [dict(x) for x in NAMESPACE_LABELS] + [{**x, REVISION_LABEL: r} for r in all_revs
                                                         for x in NAMESPACE_LABELS]
        obj_sets = [dict(x) for x in OBJECT_LABELS] + [{**x, REVISION_LABEL: r} for r in all_revs
                                                       for x in OBJECT_LABELS]
        for nl in ns_sets:
            for ol in obj_sets:
                matched = sorted({f"{name}/{w.get('name') or ''}" for name, whs in hooks.items() for w in whs
                                  if label_selector_matches(w.get("namespaceSelector"), nl)
                                  and label_selector_matches(w.get("objectSelector"), ol)})
                if len(matched) > 1:
                    for m in matched:
                        others = [o for o in matched if o != m]
                        ctx.report("IST0139", owners[m], "Webhook overlaps with others: %s. This may cause injection "
                                                         "to occur twice." % ("[" + " ".join(others) + "]"))
        for name, whs in hooks.items():
            for w in whs:
                svc = mapping(w.get("clientConfig")).get("service")
                if not isinstance(svc, dict):
                    continue
                ns, sname = str(svc.get("namespace") or ""), str(svc.get("name") or "")
                if ctx.find("Service", sname, ns) is None:
                    fname = f"{ns}/{sname}" if ns else sname
                    ctx.report("IST0139", owners[f"{name}/{w.get('name') or ''}"],
                               f"Injector refers to a control plane service that does not exist: {fname}.")
