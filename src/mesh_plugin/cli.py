"""mesh-plugin: the command line. Every command is a thin adapter over the tool registry."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

EPILOG = """examples:
  mesh-plugin demo                          start the sandbox and print a mesh health report
  mesh-plugin overview                      meshes, namespaces, sidecar coverage, findings
  mesh-plugin workloads -n production       workloads with sidecar and identity
  mesh-plugin workloads -f manifests/       the same, offline, from YAML files
  mesh-plugin proxy-health frontend-abc.production
  mesh-plugin proxy-config cluster frontend-abc.production --fqdn payment-api
  mesh-plugin proxy-config all -f dump.json      the same tables from a saved config dump
  mesh-plugin analyze -A                    istioctl-compatible analysis of the cluster
  mesh-plugin analyze k8s/ -o json          ... of files in a GitOps repo (offline)
  mesh-plugin serve --read-only             MCP server on stdio, without write tools
  mesh-plugin sandbox                       run the sandbox cluster until Ctrl-C (for kubectl)
"""


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster")
    g.add_argument("--kubeconfig", default=argparse.SUPPRESS, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    g.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context (default: the current one)")
    g.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per API request (default 10)")
    g.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help="remove every write tool/command")


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table", help="output format")


def _request_parties(q: argparse.ArgumentParser, identity_flag: str) -> None:
    """Who calls whom, for `authz check` and `linkerd authz`: the mesh-specific identity flag, then the rest."""
    q.add_argument("--to", required=True, help="NAMESPACE/WORKLOAD")
    q.add_argument("--port", type=int)
    q.add_argument(identity_flag)
    q.add_argument("--from-namespace")
    q.add_argument("--from-sa")
    q.add_argument("--from-ip")


def build_parser() -> argparse.ArgumentParser:
    from .agent.chat import DEFAULT_MODEL

    ap = argparse.ArgumentParser(prog="mesh-plugin", description="Service-mesh copilot for Istio and Linkerd: "
                                 "MCP server, CLI and agent.", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    ap.add_argument("--version", action="version", version=f"mesh-plugin {__version__}")
    _common(ap)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    _common(p)
    p.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="bind address for streamable-http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port for streamable-http (default 8000)")
    p.add_argument("--sandbox", action="store_true", help="start the embedded sandbox cluster and serve it")
    p.add_argument("--prometheus-url", action="append", dest="prometheus_urls", metavar="URL",
                   help="a Prometheus base URL callers may use (repeatable; also MESH_PLUGIN_PROMETHEUS_URL, "
                        "comma-separated). Callers cannot name any other URL.")

    p = sub.add_parser("overview", help="meshes, namespaces, sidecar coverage and findings")
    _common(p)
    p.add_argument("-n", "--namespace")
    p.add_argument("-f", "--file", dest="files", action="append", help="offline: YAML file or folder (repeatable)")
    p.add_argument("--limit", type=int, default=30)
    _output(p)

    p = sub.add_parser("workloads", help="workloads with sidecar, identity and issues")
    _common(p)
    p.add_argument("-n", "--namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="all namespaces (the default)")
    p.add_argument("--sidecar", choices=["istio", "linkerd", "istio-gateway", "none"])
    p.add_argument("-f", "--file", dest="files", action="append", help="offline: YAML file or folder (repeatable)")
    p.add_argument("--limit", type=int, default=25)
    p.add_argument("--offset", type=int, default=0)
    _output(p)

    p = sub.add_parser("proxy-health", help="a sidecar's live endpoints and outlier ejections")
    _common(p)
    p.add_argument("pod", help="POD or POD.NAMESPACE")
    p.add_argument("-n", "--namespace")
    p.add_argument("--cluster", help="only clusters containing this text")
    p.add_argument("--limit", type=int, default=40)
    _output(p)

    p = sub.add_parser("analyze", help="istioctl-compatible analysis, live or on files",
                       description="Analyze Istio/Linkerd configuration on the cluster or in files. Exit code 79 "
                                   "when messages at or above --failure-threshold are found.")
    _common(p)
    p.add_argument("paths", nargs="*", help="YAML files or folders to analyze offline (- for stdin)")
    p.add_argument("-f", "--file", dest="files", action="append", default=[], help="file or folder (repeatable)")
    p.add_argument("-n", "--namespace", help="only messages for this namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="all namespaces (the default)")
    p.add_argument("--only", action="append", help="run only this analyzer (name or glob; repeatable)")
    p.add_argument("--suppress", "-S", action="append", default=[],
                   help='suppress messages: "CODE=Kind ns/name", globs allowed (repeatable)')
    p.add_argument("--meshConfigFile", "--mesh-config-file", dest="mesh_config_file",
                   help="MeshConfig YAML to use instead of the cluster's")
    p.add_argument("--list-analyzers", action="store_true", help="list the analyzers and exit")
    p.add_argument("--failure-threshold", choices=["Error", "Warning", "Info"], default="Error",
                   help="lowest level that makes the exit code non-zero (default Error)")
    p.add_argument("--output-threshold", choices=["Error", "Warning", "Info"], default="Info",
                   help="lowest level printed (default Info)")
    p.add_argument("-o", "--output", choices=["log", "json", "yaml"], default="log", help="output format")

    p = sub.add_parser("proxy-config", aliases=["pc"], help="istioctl proxy-config: a sidecar's Envoy config",
                       description="Show a sidecar's Envoy config as istioctl does, from the pod (through the API "
                                   "server) or from a saved config dump (-f).")
    _common(p)
    p.add_argument("kind", choices=["cluster", "clusters", "listener", "listeners", "route", "routes", "endpoint",
                                    "endpoints", "secret", "secrets", "bootstrap", "log", "all"])
    p.add_argument("pod", nargs="?", help="POD or POD.NAMESPACE")
    p.add_argument("-n", "--namespace")
    p.add_argument("-f", "--file", help="a saved config dump (JSON) instead of a pod")
    for flag, typ in (("--fqdn", str), ("--port", int), ("--subset", str), ("--direction", str), ("--name", str),
                      ("--address", str), ("--cluster", str), ("--status", str)):
        p.add_argument(flag, type=typ)
    p.add_argument("-o", "--output", choices=["short", "table", "json"], default="short")
    p.add_argument("--limit", type=int, default=0, help="rows per table (default 0: all)")
    p.add_argument("--offset", type=int, default=0)

    p = sub.add_parser("proxy-status", help="every sidecar of a namespace: versions, last update, sync with the "
                                            "VirtualServices")
    _common(p)
    p.add_argument("-n", "--namespace", required=True)
    p.add_argument("--limit", type=int, default=30)
    _output(p)

    p = sub.add_parser("proxy-log-level", help="set a sidecar's Envoy log level (dry-run unless --apply)")
    _common(p)
    p.add_argument("pod", help="POD or POD.NAMESPACE")
    p.add_argument("level", choices=["trace", "debug", "info", "warning", "error", "critical", "off"])
    p.add_argument("-n", "--namespace")
    p.add_argument("--logger", help="one logger (default: all)")
    p.add_argument("--apply", action="store_true", help="apply the change (default: dry-run)")
    _output(p)

    p = sub.add_parser("mtls", help="effective mTLS per workload and port, conflicts, plaintext share")
    _common(p)
    p.add_argument("-n", "--namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--workload")
    p.add_argument("-f", "--file", dest="files", action="append", help="offline: YAML file or folder (repeatable)")
    p.add_argument("--prometheus-url")
    p.add_argument("--window", default="1h")
    p.add_argument("--limit", type=int, default=25)
    _output(p)

    p = sub.add_parser("mtls-plan", help="where a namespace is on the way to STRICT mTLS, and what blocks it")
    _common(p)
    p.add_argument("namespace")
    p.add_argument("-f", "--file", dest="files", action="append")
    p.add_argument("--prometheus-url")
    _output(p)

    p = sub.add_parser("mtls-set", help="set the mTLS mode of a namespace, workload or port (dry-run unless --apply)")
    _common(p)
    p.add_argument("namespace")
    p.add_argument("mode", choices=["STRICT", "PERMISSIVE", "DISABLE", "UNSET"])
    p.add_argument("--workload")
    p.add_argument("--port", type=int)
    p.add_argument("--apply", action="store_true")
    p.add_argument("--force", action="store_true", help="go STRICT despite blockers")
    p.add_argument("--confirm", help="the namespace name, for namespaces labelled as production")
    p.add_argument("--prometheus-url")
    _output(p)

    p = sub.add_parser("rollback", help="restore the object a change modified (dry-run unless --apply)")
    _common(p)
    p.add_argument("handle")
    p.add_argument("--apply", action="store_true")
    p.add_argument("--confirm")
    _output(p)

    p = sub.add_parser("routing", help="how requests to a host are routed (VirtualServices, subsets, gateways)")
    _common(p)
    p.add_argument("host")
    p.add_argument("-n", "--namespace")
    p.add_argument("-f", "--file", dest="files", action="append")
    _output(p)

    p = sub.add_parser("traffic", help="traffic split, canary steps, mirroring, verification, canary template")
    _common(p)
    tsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, helptext in (("split", "route HOST by weights: traffic split HOST v1=90 v2=10"),
                             ("mirror", "mirror a share of HOST to a subset: traffic mirror HOST SUBSET PERCENT"),
                             ("step", "move a canary to the next weight: traffic step HOST CANARY"),
                             ("verify", "check the proxies apply the VirtualService weights"),
                             ("template", "print a canary VirtualService + DestinationRule for review")):
        q = tsub.add_parser(action, help=helptext)
        _common(q)
        q.add_argument("host")
        if action == "split":
            q.add_argument("weights", nargs="+", metavar="SUBSET=WEIGHT")
        elif action == "mirror":
            q.add_argument("subset")
            q.add_argument("percent", type=float)
        elif action == "step":
            q.add_argument("canary")
            q.add_argument("--steps", default="10,25,50,100")
            q.add_argument("--prometheus-url")
            q.add_argument("--force", action="store_true")
        elif action == "template":
            q.add_argument("--canary")
            q.add_argument("--weight", type=int, default=10)
        q.add_argument("-n", "--namespace")
        if action in ("split", "mirror", "template"):
            q.add_argument("-f", "--file", dest="files", action="append",
                           help="offline: print the changed manifests instead of touching a cluster")
        if action in ("split", "mirror"):
            q.add_argument("--diff", action="store_true", help="offline: print a unified diff")
        if action in ("split", "mirror", "step"):
            q.add_argument("--apply", action="store_true")
            q.add_argument("--confirm")
        _output(q)

    p = sub.add_parser("resilience", help="effective outlier detection and connection pools of a host, live "
                                          "ejections, lint")
    _common(p)
    p.add_argument("host")
    p.add_argument("-n", "--namespace")
    p.add_argument("-f", "--file", dest="files", action="append")
    p.add_argument("--no-live", action="store_true", help="do not read the sidecars")
    _output(p)

    p = sub.add_parser("recommend-outlier", help="a conservative outlierDetection for a host, explained")
    _common(p)
    p.add_argument("host")
    p.add_argument("-n", "--namespace")
    p.add_argument("--prometheus-url")
    _output(p)

    for name, helptext in (("set-outlier", "set outlierDetection: set-outlier HOST consecutive5xxErrors=10 "
                                           "interval=60s ..."),
                           ("set-pool", "set connectionPool: set-pool HOST tcp.maxConnections=100 "
                                        "http.http2MaxRequests=1000 ...")):
        p = sub.add_parser(name, help=helptext + " (dry-run unless --apply)")
        _common(p)
        p.add_argument("host")
        p.add_argument("settings", nargs="+", metavar="KEY=VALUE")
        p.add_argument("--subset")
        p.add_argument("-n", "--namespace")
        p.add_argument("-f", "--file", dest="files", action="append")
        p.add_argument("--diff", action="store_true")
        p.add_argument("--apply", action="store_true")
        p.add_argument("--confirm")
        _output(p)

    p = sub.add_parser("failure-accrual", help="Linkerd: set failure-accrual annotations on a Service "
                                               "(dry-run unless --apply)")
    _common(p)
    p.add_argument("service")
    p.add_argument("-n", "--namespace", required=True)
    p.add_argument("--max-failures", type=int, default=7)
    p.add_argument("--min-penalty", default="1s")
    p.add_argument("--max-penalty", default="60s")
    p.add_argument("--jitter-ratio", type=float, default=0.5)
    p.add_argument("--disable", action="store_true")
    p.add_argument("--apply", action="store_true")
    p.add_argument("--confirm")
    _output(p)

    p = sub.add_parser("chat", help="ask the mesh-engineer agent (Anthropic API; same tools, in-process)")
    _common(p)
    p.add_argument("prompt", nargs="?", help="one question (default: interactive, or stdin)")
    p.add_argument("--model", help=f"model id (default: $MESH_PLUGIN_MODEL or {DEFAULT_MODEL})")
    p.add_argument("--max-turns", type=int, default=8)
    p.add_argument("--token-budget", type=int, default=200_000, help="stop after this many tokens in total")
    p.add_argument("--yes", action="store_true", help="apply writes without asking (needed without a terminal)")

    p = sub.add_parser("authz", help="authorization: policies of a workload, check a request, lint, JWT")
    _common(p)
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = asub.add_parser("policies", help="the policies that apply to a workload, in evaluation order")
    _common(q)
    q.add_argument("workload")
    q.add_argument("-n", "--namespace", required=True)
    q.add_argument("-f", "--file", dest="files", action="append")
    _output(q)
    q = asub.add_parser("check", help="ALLOW or DENY for one request, and why")
    _common(q)
    _request_parties(q, "--from-principal")
    q.add_argument("--plaintext", action="store_true")
    q.add_argument("--method", default="GET")
    q.add_argument("--path", default="/")
    q.add_argument("--host")
    q.add_argument("--header", action="append", default=[], metavar="K=V")
    q.add_argument("--jwt-claim", action="append", default=[], metavar="K=V")
    q.add_argument("--request-principal", metavar="ISS/SUB")
    q.add_argument("--no-token", action="store_true")
    q.add_argument("-f", "--file", dest="files", action="append")
    q.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table")
    q = asub.add_parser("lint", help="authorization findings (analyze --only 'auth.*' 'security.*')")
    _common(q)
    q.add_argument("-n", "--namespace")
    q.add_argument("-f", "--file", dest="files", action="append")
    _output(q)
    q = asub.add_parser("jwt", help="RequestAuthentication + require-token policy for a workload (dry-run "
                                    "unless --apply)")
    _common(q)
    q.add_argument("workload")
    q.add_argument("-n", "--namespace", required=True)
    q.add_argument("--issuer", required=True)
    q.add_argument("--jwks-uri", required=True)
    q.add_argument("--audience", action="append", default=[])
    q.add_argument("--no-require-token", action="store_true")
    q.add_argument("-f", "--file", dest="files", action="append")
    q.add_argument("--apply", action="store_true")
    q.add_argument("--confirm")
    _output(q)

    p = sub.add_parser("linkerd", help="Linkerd: golden metrics, edges, policy, checks, traffic split")
    _common(p)
    lsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = lsub.add_parser("stat", help="linkerd viz stat: (deploy|ns|pod|sts)[/NAME]")
    _common(q)
    q.add_argument("resource")
    q.add_argument("-n", "--namespace")
    q.add_argument("--window", default="1m")
    q.add_argument("--prometheus-url")
    _output(q)
    q = lsub.add_parser("edges", help="who talks to whom, and whether each edge is mTLS")
    _common(q)
    q.add_argument("-n", "--namespace")
    q.add_argument("--prometheus-url")
    _output(q)
    q = lsub.add_parser("policies", help="Servers, AuthorizationPolicies, authentications, routes of a workload")
    _common(q)
    q.add_argument("workload")
    q.add_argument("-n", "--namespace", required=True)
    q.add_argument("-f", "--file", dest="files", action="append")
    _output(q)
    q = lsub.add_parser("authz", help="may this identity reach that workload and port?")
    _common(q)
    _request_parties(q, "--from-identity")
    q.add_argument("--route")
    q.add_argument("-f", "--file", dest="files", action="append")
    _output(q)
    q = lsub.add_parser("check", help="the checks of linkerd check that the API can answer")
    _common(q)
    _output(q)
    q = lsub.add_parser("split", help="HTTPRoute backend weights: linkerd split SERVICE -n NS svc-a=90 svc-b=10")
    _common(q)
    q.add_argument("service")
    q.add_argument("weights", nargs="+", metavar="BACKEND=WEIGHT")
    q.add_argument("-n", "--namespace", required=True)
    q.add_argument("-f", "--file", dest="files", action="append")
    q.add_argument("--apply", action="store_true")
    q.add_argument("--confirm")
    _output(q)

    p = sub.add_parser("install", help="install Istio or Linkerd: preflight, plan, apply, verify")
    _common(p)
    isub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, helptext in (("preflight", "checks before installing"), ("plan", "the Helm steps and values, for review"),
                             ("apply", "run the plan with helm (prints the commands unless --apply)"),
                             ("verify", "control plane, webhooks, CRDs, injection")):
        q = isub.add_parser(action, help=helptext)
        _common(q)
        q.add_argument("mesh", choices=["istio", "linkerd"])
        if action in ("preflight", "plan", "apply"):
            q.add_argument("--version")
        if action in ("plan", "apply"):
            q.add_argument("--profile", default="default", choices=["default", "minimal", "demo", "ambient", "ha"])
            q.add_argument("--revision")
            q.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE")
            q.add_argument("--no-gateway", action="store_true")
            q.add_argument("--no-viz", action="store_true")
        if action == "apply":
            q.add_argument("--apply", action="store_true")
        _output(q)
    p = sub.add_parser("uninstall-plan", help="the steps to remove Istio (or a revision) or Linkerd")
    _common(p)
    p.add_argument("mesh", choices=["istio", "linkerd"])
    p.add_argument("--revision")
    _output(p)

    p = sub.add_parser("tools", help="list the tools the MCP server exposes")
    _common(p)

    p = sub.add_parser("sandbox", help="run the embedded sandbox cluster until interrupted")
    p.add_argument("--no-envoy", action="store_true", help="kube API only, no Envoy sidecars")

    sub.add_parser("demo", help="start the sandbox and print a mesh health report")
    return ap


def _print(model: Any, fmt: str, tool_name: str) -> None:
    from .render import to_json, to_yaml
    from .tools.registry import get_tool

    if fmt == "json":
        print(to_json(model))
    elif fmt == "yaml":
        print(to_yaml(model), end="")
    else:
        render = get_tool(tool_name).render
        print(render(model) if render else to_json(model))


def _call(tool_name: str, /, **kwargs: Any) -> Any:
    from .tools.registry import get_tool

    return get_tool(tool_name).call(**{k: v for k, v in kwargs.items() if v is not None})


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not args.command:
        ap.print_help()
        return 0
    import logging

    from .errors import InternalError, MeshError, clip
    from .runtime import configure

    if not os.environ.get("MESH_PLUGIN_DEBUG"):  # tracebacks of internal errors only on request
        logging.getLogger("mesh_plugin.internal").disabled = True
    try:
        configure(getattr(args, "kubeconfig", None), getattr(args, "context", None), getattr(args, "timeout", None),
                  getattr(args, "read_only", False))
        return _run(args)
    except InternalError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except MeshError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `mesh-plugin demo | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # pydantic ValidationError and friends: a clean message, no traceback
        from pydantic import ValidationError

        if isinstance(e, ValidationError):
            from .tools.registry import schema_errors

            print(f"Error: invalid argument: {schema_errors(e)}", file=sys.stderr)
            return 2
        if isinstance(e, RecursionError):
            print("Error: the input is nested too deeply to read. Next: pass an ordinary manifest or dump.",
                  file=sys.stderr)
            return 2
        print(f"Error: internal error ({type(e).__name__}): {clip(str(e), 300)}. Next: set MESH_PLUGIN_DEBUG=1 "
              "for details, and report it.", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "serve":
        from .server import serve

        sb = None
        if args.sandbox:
            from .runtime import configure
            from .sandbox import Sandbox

            sb = Sandbox().start()
            configure(sb.kubeconfig, "sandbox", getattr(args, "timeout", None), getattr(args, "read_only", False))
            print(f"sandbox cluster: KUBECONFIG={sb.kubeconfig}", file=sys.stderr)
        try:
            from .runtime import RUNTIME

            serve(args.transport, args.host, args.port, read_only=RUNTIME.read_only,
                  prometheus_urls=args.prometheus_urls)
        finally:
            if sb:
                sb.stop()
        return 0
    if cmd == "overview":
        _print(_call("mesh_overview", namespace=args.namespace, limit=args.limit, files=args.files), args.output,
               "mesh_overview")
        return 0
    if cmd == "workloads":
        _print(_call("list_workloads", namespace=None if args.all_namespaces else args.namespace,
                     sidecar=args.sidecar, limit=args.limit, offset=args.offset, files=args.files),
               args.output, "list_workloads")
        return 0
    if cmd == "proxy-health":
        pod, _, ns = args.pod.partition(".")
        namespace = args.namespace or ns or _kube_namespace()
        _print(_call("proxy_health", pod=pod, namespace=namespace, cluster=args.cluster, limit=args.limit),
               args.output, "proxy_health")
        return 0
    if cmd == "analyze":
        return _analyze(args)
    if cmd in ("proxy-config", "pc"):
        kind = {"clusters": "cluster", "listeners": "listener", "routes": "route", "endpoints": "endpoint",
                "secrets": "secret"}.get(args.kind, args.kind)
        pod, ns = args.pod, args.namespace
        if pod and not ns and "." not in pod and not args.file:
            ns = _kube_namespace()
        result = _call("proxy_config", kind=kind, pod=pod, namespace=ns, file=args.file, fqdn=args.fqdn,
                       port=args.port, subset=args.subset, direction=args.direction, name=args.name,
                       address=args.address, cluster=args.cluster, status=args.status,
                       output="json" if args.output == "json" else "table", limit=args.limit or 100_000,
                       offset=args.offset)
        from .tools.proxy import render_proxy_config

        print(render_proxy_config(result))
        return 0
    if cmd == "mtls":
        _print(_call("mtls_status", namespace=None if args.all_namespaces else args.namespace, workload=args.workload,
                     files=args.files, prometheus_url=args.prometheus_url, window=args.window, limit=args.limit),
               args.output, "mtls_status")
        return 0
    if cmd == "mtls-plan":
        _print(_call("mtls_migration_plan", namespace=args.namespace, files=args.files,
                     prometheus_url=args.prometheus_url), args.output, "mtls_migration_plan")
        return 0
    if cmd in ("mtls-set", "rollback"):
        from .runtime import RUNTIME

        if RUNTIME.read_only:
            print(f"Error: {cmd} changes the cluster and --read-only is set.", file=sys.stderr)
            return 2
        if cmd == "mtls-set":
            result = _call("set_mtls_mode", namespace=args.namespace, mode=args.mode, workload=args.workload,
                           port=args.port, apply=args.apply, force=args.force, confirm=args.confirm,
                           prometheus_url=args.prometheus_url)
        else:
            result = _call("rollback_change", handle=args.handle, apply=args.apply, confirm=args.confirm)
        _print_change(result, args.output)
        return 0
    if cmd == "routing":
        _print(_call("describe_routing", host=args.host, namespace=args.namespace, files=args.files), args.output,
               "describe_routing")
        return 0
    if cmd == "traffic":
        return _traffic(args)
    if cmd == "authz":
        return _authz(args)
    if cmd == "linkerd":
        return _linkerd(args)
    if cmd == "install":
        return _install(args)
    if cmd == "uninstall-plan":
        _print(_call("uninstall_plan", mesh=args.mesh, revision=args.revision), args.output, "uninstall_plan")
        return 0
    if cmd == "resilience":
        _print(_call("resilience_status", host=args.host, namespace=args.namespace, files=args.files,
                     live=not args.no_live), args.output, "resilience_status")
        return 0
    if cmd == "recommend-outlier":
        _print(_call("recommend_outlier_detection", host=args.host, namespace=args.namespace,
                     prometheus_url=args.prometheus_url), args.output, "recommend_outlier_detection")
        return 0
    if cmd in ("set-outlier", "set-pool", "failure-accrual"):
        from .runtime import RUNTIME

        if RUNTIME.read_only and not getattr(args, "files", None):
            print(f"Error: {cmd} changes the cluster and --read-only is set.", file=sys.stderr)
            return 2
        if cmd == "failure-accrual":
            result = _call("set_failure_accrual", service=args.service, namespace=args.namespace,
                           max_failures=args.max_failures, min_penalty=args.min_penalty,
                           max_penalty=args.max_penalty, jitter_ratio=args.jitter_ratio, disable=args.disable,
                           apply=args.apply, confirm=args.confirm)
        else:
            settings = _kv_settings(args.settings)
            result = _call("set_outlier_detection" if cmd == "set-outlier" else "set_connection_pool",
                           host=args.host, settings=settings, subset=args.subset, namespace=args.namespace,
                           files=args.files, apply=args.apply, confirm=args.confirm, show_diff=args.diff)
        return _print_traffic_change(result, args.output)
    if cmd == "proxy-status":
        _print(_call("proxy_status", namespace=args.namespace, limit=args.limit), args.output, "proxy_status")
        return 0
    if cmd == "proxy-log-level":
        from .runtime import RUNTIME

        if RUNTIME.read_only:
            print("Error: proxy-log-level changes the sidecar and --read-only is set.", file=sys.stderr)
            return 2
        pod, _, ns = args.pod.partition(".")
        _print(_call("proxy_log_level", pod=pod, namespace=args.namespace or ns or _kube_namespace(),
                     level=args.level, logger=args.logger, apply=args.apply), args.output, "proxy_log_level")
        return 0
    if cmd == "tools":
        from .render import table
        from .runtime import RUNTIME
        from .tools.registry import load_tools

        tools = load_tools(read_only=RUNTIME.read_only)
        print(table(["TOOL", "TITLE", "READ-ONLY", "DESTRUCTIVE"],
                    [[t.name, t.title, t.read_only, t.destructive] for t in tools]))
        return 0
    if cmd == "sandbox":
        return _sandbox(envoy=not args.no_envoy)
    if cmd == "chat":
        from .agent import run_chat
        from .runtime import RUNTIME

        return run_chat(args.prompt, model=args.model, max_turns=args.max_turns, token_budget=args.token_budget,
                        assume_yes=args.yes, read_only=RUNTIME.read_only)
    if cmd == "demo":
        from .demo import run_demo

        return run_demo()
    raise AssertionError(cmd)


def _analyze(args: argparse.Namespace) -> int:
    import json

    from .analyzers import ALL
    from .render import table
    from .tools.analyze import LEVELS, run_analysis

    if args.list_analyzers:
        print(table(["ANALYZER", "DESCRIPTION"], [[a.name, a.description] for a in ALL]))
        return 0
    files = list(args.paths or []) + list(args.files or [])
    namespace = None if args.all_namespaces else args.namespace
    msgs, _, snap, _ = run_analysis(files or None, namespace, args.only, args.suppress, args.mesh_config_file,
                                    args.output_threshold)
    rows = [{"code": m.code, "documentationUrl": m.documentation_url, "level": m.level, "message": m.message,
             "origin": m.origin} for m in msgs]
    if args.output == "json":
        print(json.dumps(rows, indent=2))
    elif args.output == "yaml":
        import yaml

        print(yaml.safe_dump(rows, sort_keys=False, width=1000), end="")
    elif not msgs:
        where = f"namespace: {namespace}" if namespace else ("files" if files else "all namespaces")
        print(f"\u2714 No validation issues found when analyzing {where}.")
    else:
        for m in msgs:
            print(m.line())
    limit = LEVELS.index(args.failure_threshold)
    return 79 if any(LEVELS.index(m.level) <= limit for m in msgs) else 0


def _traffic(args: argparse.Namespace) -> int:
    from .runtime import RUNTIME

    a = args.action
    if a in ("split", "mirror", "step") and RUNTIME.read_only and not getattr(args, "files", None):
        print(f"Error: traffic {a} changes the cluster and --read-only is set.", file=sys.stderr)
        return 2
    if a == "verify":
        _print(_call("verify_routing", host=args.host, namespace=args.namespace), args.output, "verify_routing")
        return 0
    if a == "template":
        _print(_call("canary_template", host=args.host, namespace=args.namespace, canary=args.canary,
                     weight=args.weight, files=args.files), args.output, "canary_template")
        return 0
    if a == "split":
        result = _call("set_traffic_split", host=args.host, weights=_pairs(args.weights, "SUBSET=WEIGHT", True), namespace=args.namespace,
                       files=args.files, apply=args.apply, confirm=args.confirm, show_diff=args.diff)
    elif a == "mirror":
        result = _call("set_traffic_mirror", host=args.host, subset=args.subset, percent=args.percent,
                       namespace=args.namespace, files=args.files, apply=args.apply, confirm=args.confirm,
                       show_diff=args.diff)
    else:
        steps = [int(x) for x in args.steps.split(",") if x.strip().isdigit()]
        result = _call("traffic_step", host=args.host, canary=args.canary, namespace=args.namespace, steps=steps,
                       prometheus_url=args.prometheus_url, force=args.force, apply=args.apply, confirm=args.confirm)
    return _print_traffic_change(result, args.output)


def _install(args: argparse.Namespace) -> int:
    a = args.action
    if a == "preflight":
        r = _call("install_preflight", mesh=args.mesh, version=args.version)
        _print(r, args.output, "install_preflight")
        return 0 if r.ok else 1
    if a == "verify":
        r = _call("install_verify", mesh=args.mesh)
        _print(r, args.output, "install_verify")
        return 0 if r.ok else 1
    values = _pairs(args.values, "KEY=VALUE")
    kw = {"mesh": args.mesh, "profile": args.profile, "version": args.version, "revision": args.revision,
          "values": values or None, "gateway": not args.no_gateway, "viz": not args.no_viz}
    if a == "plan":
        _print(_call("install_plan", **kw), args.output, "install_plan")
        return 0
    from .runtime import RUNTIME

    if RUNTIME.read_only and args.apply:
        print("Error: install apply changes the cluster and --read-only is set.", file=sys.stderr)
        return 2
    r = _call("install_apply", apply=args.apply, **kw)
    _print(r, args.output, "install_apply")
    return 1 if r.failed else 0


def _linkerd(args: argparse.Namespace) -> int:
    a = args.action
    if a == "stat":
        _print(_call("linkerd_stat", resource=args.resource, namespace=args.namespace, window=args.window,
                     prometheus_url=args.prometheus_url), args.output, "linkerd_stat")
    elif a == "edges":
        _print(_call("linkerd_edges", namespace=args.namespace, prometheus_url=args.prometheus_url), args.output,
               "linkerd_edges")
    elif a == "policies":
        _print(_call("linkerd_policies", workload=args.workload, namespace=args.namespace, files=args.files),
               args.output, "linkerd_policies")
    elif a == "authz":
        _print(_call("linkerd_authz_check", to=args.to, port=args.port, from_identity=args.from_identity,
                     from_namespace=args.from_namespace, from_sa=args.from_sa, from_ip=args.from_ip,
                     route=args.route, files=args.files), args.output, "linkerd_authz_check")
    elif a == "check":
        result = _call("linkerd_check")
        _print(result, args.output, "linkerd_check")
        return 0 if result.ok else 1
    else:
        from .runtime import RUNTIME

        if RUNTIME.read_only and not args.files:
            print("Error: linkerd split changes the cluster and --read-only is set.", file=sys.stderr)
            return 2
        return _print_traffic_change(_call("set_linkerd_split", service=args.service, namespace=args.namespace,
                                           weights=_pairs(args.weights, "BACKEND=WEIGHT", True), files=args.files, apply=args.apply,
                                           confirm=args.confirm), args.output)
    return 0


def _authz(args: argparse.Namespace) -> int:
    a = args.action
    if a == "policies":
        _print(_call("authz_policies", workload=args.workload, namespace=args.namespace, files=args.files),
               args.output, "authz_policies")
    elif a == "lint":
        _print(_call("analyze", namespace=args.namespace, files=args.files, only=["auth.*", "security.*"]),
               args.output, "analyze")
    elif a == "check":
        _print(_call("authz_check", to=args.to, port=args.port, from_principal=args.from_principal,
                     from_namespace=args.from_namespace, from_sa=args.from_sa, from_ip=args.from_ip,
                     plaintext=args.plaintext, method=args.method, path=args.path, host=args.host,
                     headers=_pairs(args.header) or None, jwt_claims=_pairs(args.jwt_claim) or None,
                     request_principal=args.request_principal, no_token=args.no_token, files=args.files),
               args.output, "authz_check")
    else:
        from .runtime import RUNTIME

        if RUNTIME.read_only and not args.files:
            print("Error: authz jwt changes the cluster and --read-only is set.", file=sys.stderr)
            return 2
        result = _call("generate_jwt_policy", workload=args.workload, namespace=args.namespace, issuer=args.issuer,
                       jwks_uri=args.jwks_uri, audiences=args.audience or None,
                       require_token=not args.no_require_token, files=args.files, apply=args.apply,
                       confirm=args.confirm)
        if args.output == "table" and not args.files:
            print(result.manifests_for_review)
        return _print_traffic_change(result, args.output)
    return 0


def _kv_settings(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE (KEY may be section.key) into a nested dict; whole numbers become ints."""
    out: dict[str, Any] = {}
    for key, value in _pairs(items, "KEY=VALUE").items():
        parsed: Any = int(value) if value.lstrip("-").isdigit() else (
            {"true": True, "false": False}.get(value.lower(), value))
        cur = out
        parts = key.split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = parsed
    return out


def _pairs(items: list[str], what: str = "K=V", numbers: bool = False) -> dict[str, Any]:
    """KEY=VALUE arguments into a dict (whole-number values as ints when ``numbers``); exits on a malformed one."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"Error: {item!r} is not {what}", file=sys.stderr)
            raise SystemExit(2)
        out[key] = int(value) if numbers and value.strip().isdigit() else value
    return out


def _print_traffic_change(result: Any, fmt: str) -> int:
    if fmt != "table":
        _print(result, fmt, "set_traffic_split")
        return 0
    if result.manifests is not None:
        print(result.manifests, end="" if result.manifests.endswith("\n") else "\n")
        print(f"# {result.note}", file=sys.stderr)
        return 0
    for w in result.warnings:
        print(f"WARNING: {w}")
    for change in result.changes:
        _print_change(change, "table")
    return 0


def _print_change(result: Any, fmt: str) -> None:
    if fmt != "table":
        from .render import to_json, to_yaml

        print(to_json(result) if fmt == "json" else to_yaml(result), end="" if fmt == "yaml" else "\n")
        return
    print(f"{result.target}: {result.action} ({'APPLIED' if result.applied else 'dry-run'})")
    for w in result.warnings:
        print(f"WARNING: {w}")
    if result.diff:
        print(result.diff)
    print(result.note)
    if result.rollback_handle:
        print(f"rollback: mesh-plugin rollback {result.rollback_handle} --apply")


def _kube_namespace() -> str:
    """The namespace of the current kubeconfig context, as kubectl would use."""
    from .runtime import RUNTIME

    try:
        from kubernetes import config as kconfig

        path = RUNTIME.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        contexts, current = kconfig.list_kube_config_contexts(config_file=path)
        ctx = next((c for c in contexts if c["name"] == RUNTIME.context), current) if RUNTIME.context else current
        return str((ctx or {}).get("context", {}).get("namespace") or "default")
    except Exception:
        return "default"


def _sandbox(envoy: bool) -> int:
    import signal
    import threading

    from .sandbox import Sandbox

    sb = Sandbox(envoy=envoy).start()
    print(f"Sandbox cluster ready in {sb.started_in:.2f}s at {sb.url} with {len(sb.sidecars)} Envoy sidecar(s).")
    print(f"  export KUBECONFIG={sb.kubeconfig}")
    print("  kubectl get pods -n production; mesh-plugin overview")
    print("Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
