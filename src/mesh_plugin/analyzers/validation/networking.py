"""networking.istio.io validators: Gateway, DestinationRule, Sidecar, VirtualService, ServiceEntry,
WorkloadEntry, WorkloadGroup, ProxyConfig (pkg/config/validation/validation.go, virtualservice.go)."""
from __future__ import annotations

import json
import re
from typing import Any

from . import VALIDATORS
from .common import (AnalysisAware, Validation, Warn, errs, f, go_q, i, is_dns1123_label, is_http, is_tcp, is_tls,
                     is_valid_ip, m, multierror_text, parse_duration, parse_protocol, s, seq,
                     validate_alpha_workload_selector, validate_dns1123_labels, validate_duration, validate_export_to,
                     validate_fqdn, validate_ip_address, validate_ip_subnet, validate_labels, validate_partial_wildcard,
                     validate_percent, validate_port, validate_port_name, validate_protocol, validate_wildcard_domain,
                     validate_wildcard_domain_for_gateway_vs, validate_workload_selector, wrapped)
from .metadata import with_metadata

UNIX = "unix://"
KB, MB = 1024, 1024 * 1024


def _unix_address(addr: str) -> str | None:
    if not addr:
        return "unix address must not be empty"
    if addr.startswith("@"):
        return None
    if not addr.startswith("/") or addr.endswith("/"):
        return f"{addr} is not an absolute path to a file"
    return None


# -- hosts of gateways and sidecars (agent.ValidateNamespaceSlashWildcardHostname) ---------------------
def _host_part(hostname: str, gateway: bool) -> list[str]:
    out = []
    if hostname != "*" and "." not in hostname:
        out.append("short names (non FQDN) are not allowed")
    err = validate_wildcard_domain(hostname)
    if err:
        if not gateway:
            out.append(err)
        if not is_valid_ip(hostname):
            out.append(err)
    out += errs(validate_partial_wildcard(hostname))
    return out


def namespace_slash_host(hostname: str, gateway: bool, gateway_semantics: bool = False) -> list[str]:
    parts = hostname.split("/", 1)
    if len(parts) != 2:
        if gateway:
            return _host_part(hostname, True)
        return ["host must be of form namespace/dnsName"]
    out = []
    if not parts[0] or not parts[1]:
        out.append("config namespace and dnsName in host entry cannot be empty")
    if not gateway:
        ns = parts[0].removeprefix("~")
        if ns not in ("", "*", ".") and not is_dns1123_label(ns):
            out.append(f"invalid namespace value {go_q(parts[0])} in sidecar")
    elif parts[0] not in ("*", ".") and (parts[0] != "~" or not gateway_semantics):
        if not is_dns1123_label(parts[0]):
            out.append(f"invalid namespace value {go_q(parts[0])} in gateway")
    return out + _host_part(parts[1], gateway)


# -- Gateway --------------------------------------------------------------------------------------------
#: security.ValidCipherSuites (BoringSSL names Envoy accepts)
VALID_CIPHERS = frozenset({
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-PSK-AES128-CBC-SHA",
    "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-PSK-AES256-CBC-SHA", "AES128-GCM-SHA256",
    "AES256-GCM-SHA384", "AES128-SHA", "PSK-AES128-CBC-SHA", "AES256-SHA", "PSK-AES256-CBC-SHA", "DES-CBC3-SHA"})


def _valid_cipher(cs: str) -> bool:
    if cs in ("", "ALL"):
        return True
    if not cs[0].isalnum():
        return True
    return cs in VALID_CIPHERS


def validate_tls_options(tls: Any) -> Validation:
    v = Validation()
    if tls is None:
        return v
    tls = m(tls)
    mode = s(tls.get("mode")) or "PASSTHROUGH"
    ciphers = [s(c) for c in seq(tls.get("cipherSuites"))]
    if s(tls.get("minProtocolVersion")) in ("TLSV1_0", "TLSV1_1") and not ciphers:
        v.warn("TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include "
               "compatible ciphers.")
    invalid, valid, dup = set(), set(), set()
    for cs in ciphers:
        if not _valid_cipher(cs):
            invalid.add(cs)
        elif cs in valid:
            dup.add(cs)
        else:
            valid.add(cs)
    if invalid:
        v.warn(f"ignoring invalid cipher suites: [{' '.join(sorted(invalid))}]")
    if dup:
        v.warn(f"ignoring duplicate cipher suites: [{' '.join(sorted(dup))}]")
    cert, key, ca = s(tls.get("serverCertificate")), s(tls.get("privateKey")), s(tls.get("caCertificates"))
    cred, creds, certs = s(tls.get("credentialName")), seq(tls.get("credentialNames")), seq(tls.get("tlsCertificates"))
    if mode == "ISTIO_MUTUAL":
        for cond, text in ((cert, "server certificate"), (key, "private key"), (ca, "CA bundle"),
                           (certs, "tlsCertificates"), (cred, "credentialName"), (creds, "credentialNames")):
            if cond:
                v.add(f"ISTIO_MUTUAL TLS cannot have associated {text}")
        return v
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH") and (s(tls.get("caCrl")) or cert or key or ca or certs or cred
                                                        or creds):
        v.warn(f"{mode} mode does not use certificates, they will be ignored")
    sources = bool(cert and key) + bool(cred) + bool(creds) + bool(certs)
    if sources > 1:
        v.add("only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should "
              "be specified")
    simple_or_mutual = mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL")
    if simple_or_mutual and (cred or creds):
        return v
    to_verify = [m(c) for c in certs] if certs else [{"serverCertificate": cert, "privateKey": key}]
    if simple_or_mutual:
        prefix = "SIMPLE TLS"
        if mode in ("MUTUAL", "OPTIONAL_MUTUAL"):
            prefix = "MUTUAL TLS"
            if not ca:
                v.add(f"{prefix} requires a client CA bundle")
        if len(certs) > 2:
            v.warn(f"{prefix} can support up to 2 server certificates")
        for c in to_verify:
            if not s(c.get("serverCertificate")):
                v.add(f"{prefix} requires a server certificate")
            if not s(c.get("privateKey")):
                v.add(f"{prefix} requires a private key")
    if s(tls.get("caCrl")):
        if cred:
            v.add("CRL is not supported with credentialName. CRL has to be specified in the credential")
        if mode == "SIMPLE":
            v.add("CRL is not supported with SIMPLE TLS")
    return v


def _port_text(port: dict) -> str:
    """The %v of a networking.Port proto (its text form)."""
    parts = []
    if i(port.get("number")):
        parts.append(f"number:{i(port.get('number'))}")
    if s(port.get("protocol")):
        parts.append(f"protocol:{go_q(s(port.get('protocol')))}")
    if s(port.get("name")):
        parts.append(f"name:{go_q(s(port.get('name')))}")
    if i(port.get("targetPort")):
        parts.append(f"target_port:{i(port.get('targetPort'))}")
    return " ".join(parts)


def _server_port(port: Any, bind: str) -> Validation:
    v = Validation()
    if port is None:
        return v.add("port is required")
    port = m(port)
    proto = s(port.get("protocol"))
    if parse_protocol(proto) == "UnsupportedProtocol":
        v.add(f"invalid protocol {go_q(proto)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, "
              "MYSQL, TCP")
    if i(port.get("number")) > 0 or not bind.startswith(UNIX):
        v.add(validate_port(i(port.get("number"))))
    if i(port.get("targetPort")) > 0:
        v.add("targetPort has no impact on Gateways")
    if not s(port.get("name")):
        v.add(f"port name must be set: {_port_text(port)}")
    return v


def _server_bind(port: Any, bind: str) -> list[str]:
    if bind.startswith(UNIX):
        out = errs(_unix_address(bind[len(UNIX):]))
        if port is not None and i(m(port).get("number")) != 0:
            out.append(f"port number must be 0 for unix domain socket: {_port_text(m(port))}")
        return out
    if bind:
        return errs(validate_ip_address(bind))
    return []


def _passthrough(server: dict) -> bool:
    return s(m(server.get("tls")).get("mode")) in ("", "PASSTHROUGH", "AUTO_PASSTHROUGH") and \
        isinstance(server.get("tls"), dict)


def validate_server(server: Any, gateway_semantics: bool) -> Validation:
    v = Validation()
    if not isinstance(server, dict):
        return v.add("cannot have nil server")
    hosts = [s(h) for h in seq(server.get("hosts"))]
    if not hosts:
        v.add("server config must contain at least one host")
    for h in hosts:
        v.add(namespace_slash_host(h, True, gateway_semantics))
    bind = s(server.get("bind"))
    port_err = _server_port(server.get("port"), bind)
    v.add(port_err, _server_bind(server.get("port"), bind), validate_tls_options(server.get("tls")))
    if not port_err.errors:
        p = parse_protocol(s(m(server.get("port")).get("protocol")))
        tls = server.get("tls")
        if is_tls(p) and tls is None:
            v.add("server must have TLS settings for HTTPS/TLS protocols")
        elif not is_tls(p) and tls is not None:
            if is_http(p):
                t = m(tls)
                if not _passthrough(server) or s(t.get("caCertificates")) or s(t.get("privateKey")) or \
                        s(t.get("serverCertificate")):
                    v.add("server cannot have TLS settings for plain text HTTP ports")
            else:
                v.add("server cannot have TLS settings for non HTTPS/TLS ports")
    return v


@with_metadata("Gateway")
def validate_gateway(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    semantics = _annotation(obj, "internal.istio.io/gateway-semantics") == "gateway"
    if not is_dns1123_label(name) and not semantics:
        v.add(f"invalid gateway name: {go_q(name)}")
    servers = seq(spec.get("servers"))
    if not servers:
        v.add("gateway must have at least one server")
    for server in servers:
        v.add(validate_server(server, semantics))
    port_names: set[str] = set()
    for server in servers:
        if not isinstance(server, dict):
            v.add("server may not be nil")
            continue
        port = server.get("port")
        if isinstance(port, dict):
            pname = s(port.get("name"))
            if pname in port_names:
                v.add(f"port names in servers must be unique: duplicate name {pname}")
            port_names.add(pname)
            if not is_http(parse_protocol(s(port.get("protocol")))) and m(server.get("tls")).get("httpsRedirect"):
                v.warn("tls.httpsRedirect should only be used with http servers")
    return v


def _annotation(obj: dict, key: str) -> str:
    return s(m(m(obj.get("metadata")).get("annotations")).get(key))


# -- DestinationRule ------------------------------------------------------------------------------------
def validate_client_tls(namespace: str, tls: Any) -> list[str]:
    """agent.ValidateTLS (ClientTLSSettings)."""
    out: list[str] = []
    if tls is None:
        return out
    tls = m(tls)
    mode = s(tls.get("mode")) or "DISABLE"
    cred = s(tls.get("credentialName"))
    if cred.startswith("configmap://"):
        rest = cred[len("configmap://"):]
        ns = rest.split("/", 1)[0] if "/" in rest else namespace
        if ns != namespace or not namespace:
            out.append(f"invalid configmap:// credentialName: namespace must match the configuration namespace "
                       f"{go_q(namespace)}")
    ca, sans = s(tls.get("caCertificates")), tls.get("subjectAltNames")
    if wrapped(tls.get("insecureSkipVerify")) is True:
        if mode == "SIMPLE" and (ca or cred or sans is not None):
            out.append("cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is "
                       "set true")
        if mode == "MUTUAL" and (ca or sans is not None):
            out.append("cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true")
    if mode in ("SIMPLE", "MUTUAL") and cred:
        if s(tls.get("clientCertificate")) or ca or s(tls.get("privateKey")) or s(tls.get("caCrl")):
            out.append("cannot specify client certificates or CA certificate or CA CRL If credentialName is set")
        return out
    if mode == "MUTUAL":
        if not s(tls.get("clientCertificate")):
            out.append("client certificate required for mutual tls")
        if not s(tls.get("privateKey")):
            out.append("private key required for mutual tls")
    return out


def validate_outlier(od: Any) -> Validation:
    v = Validation()
    if od is None:
        return v
    od = m(od)
    if od.get("baseEjectionTime") is not None:
        v.add(validate_duration(od.get("baseEjectionTime")))
    if i(od.get("consecutiveErrors")):
        v.warn("outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or "
               "consecutive5xxErrors instead")
    if not od.get("splitExternalLocalOriginErrors") and i(wrapped(od.get("consecutiveLocalOriginFailures"))) > 0:
        v.add("outlier detection consecutive local origin failures is specified, but split external local origin "
              "errors is set to false")
    if od.get("interval") is not None:
        v.add(validate_duration(od.get("interval")))
    v.add(validate_percent(i(od.get("maxEjectionPercent"))), validate_percent(i(od.get("minHealthPercent"))))
    return v


def validate_connection_pool(cp: Any) -> list[str]:
    out: list[str] = []
    if cp is None:
        return out
    cp = m(cp)
    if cp.get("http") is None and cp.get("tcp") is None:
        return ["connection pool must have at least one field"]
    h = cp.get("http")
    if h is not None:
        h = m(h)
        for key, text in (("http1MaxPendingRequests", "http1 max pending requests"),
                          ("http2MaxRequests", "http2 max requests"),
                          ("maxRequestsPerConnection", "max requests per connection"), ("maxRetries", "max retries")):
            if i(h.get(key)) < 0:
                out.append(f"{text} must be non-negative")
        if h.get("idleTimeout") is not None:
            out += errs(validate_duration(h.get("idleTimeout")))
        if s(h.get("h2UpgradePolicy")) == "UPGRADE" and h.get("useClientProtocol"):
            out.append("use client protocol must not be true when H2UpgradePolicy is UPGRADE")
        if i(h.get("maxConcurrentStreams")) < 0:
            out.append("max concurrent streams must be non-negative")
        ka = h.get("http2KeepAlive")
        if ka is not None:
            ka = m(ka)
            for key in ("interval", "timeout"):
                if ka.get(key) is None:
                    out.append(f"http2 keepalive {key} is required")
                else:
                    out += errs(validate_duration(ka.get(key)))
    t = cp.get("tcp")
    if t is not None:
        t = m(t)
        if i(t.get("maxConnections")) < 0:
            out.append("max connections must be non-negative")
        for key in ("connectTimeout", "maxConnectionDuration"):
            if t.get(key) is not None:
                out += errs(validate_duration(t.get(key)))
        if t.get("idleTimeout") is not None and (parse_duration(t.get("idleTimeout")) or 0) // 1_000_000 != 0:
            out += errs(validate_duration(t.get("idleTimeout")))
        ka = t.get("tcpKeepalive")
        if ka is not None:
            for key in ("time", "interval"):
                if m(ka).get(key) is not None:
                    out += errs(validate_duration(m(ka).get(key)))
    return out


def _is_prime(x: int) -> bool:
    if x != 0 and x < 4:
        return True
    if x & 1 == 0:
        return False
    factor = 3
    while factor * factor <= x:
        if x % factor == 0:
            return False
        factor += 2
    return True


_TOPOLOGY = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone")


def _locality_param(loc: str) -> tuple[str, str, str, int] | None:
    items = loc.split("/", 2)
    if any(x == "" for x in items):
        return None
    items += ["", ""]
    return items[0], items[1], items[2], len(loc.split("/", 2)) - 1


def _validate_localities(locs: list[str]) -> str | None:
    tree: dict[str, dict[str, dict[str, bool]]] = {}
    for loc in locs:
        n = loc.count("*")
        if n and (n > 1 or not loc.endswith("*")):
            return f"locality {loc} wildcard '*' number can not exceed 1 and must be in the end"
        if "*" in tree:
            return f"locality {loc} overlap with previous specified ones"
        p = _locality_param(loc)
        if p is None:
            return f"locality {loc} must not contain empty region/zone/subzone info"
        region, zone, sub, level = p
        if level == 0:
            if region in tree:
                return f"locality {loc} overlap with previous specified ones"
            tree[region] = {"*": {"*": True}}
        elif level == 1:
            if region in tree:
                if "*" in tree[region] or zone in tree[region]:
                    return f"locality {loc} overlap with previous specified ones"
                tree[region][zone] = {"*": True}
            else:
                tree[region] = {zone: {"*": True}}
        else:
            if region in tree:
                if "*" in tree[region]:
                    return f"locality {loc} overlap with previous specified ones"
                if zone in tree[region]:
                    if tree[region][zone].get("*") or tree[region][zone].get(sub):
                        return f"locality {loc} overlap with previous specified ones"
                    tree[region][zone][sub] = True
                else:
                    tree[region][zone] = {sub: True}
            else:
                tree[region] = {zone: {sub: True}}
    return None


def _locality_lb(lb: Any, outlier: Any) -> Validation:
    v = Validation()
    if lb is None:
        return v
    lb = m(lb)
    distribute, failover, priority = seq(lb.get("distribute")), seq(lb.get("failover")), seq(lb.get("failoverPriority"))
    if distribute and failover:
        return v.add("can not simultaneously specify 'distribute' and 'failover'")
    if failover and priority:
        for label in (s(x) for x in priority):
            if label in _TOPOLOGY:
                return v.add(f"can not simultaneously set 'failover' and topology label '{label}' in "
                             "'failover_priority'")
    src = []
    for d in distribute:
        d = m(d)
        src.append(s(d.get("from")))
        total = 0
        for w in m(d.get("to")).values():
            if i(w) <= 0 or i(w) > 100:
                return v.add("locality weight must be in range [1, 100]")
            total += i(w)
        if total != 100:
            return v.add(f"total locality weight {total} != 100")
        v.add(_validate_localities([s(k) for k in m(d.get("to"))]))
    v.add(_validate_localities(src))
    if (failover or priority) and outlier is None:
        v.warn("outlier detection policy must be provided for failover")
    for fo in failover:
        fo = m(fo)
        frm, to = s(fo.get("from")), s(fo.get("to"))
        if frm == to:
            v.add("locality lb failover settings must specify different regions")
        if "/" in frm or "/" in to:
            v.add("locality lb failover only specify region")
        if "*" in frm or "*" in to:
            v.add("locality lb failover region should not contain '*' wildcard")
    return v


def _zone_aware_lb(lb: Any, outlier: Any) -> Validation:
    v = Validation()
    if lb is None:
        return v
    lb = m(lb)
    for label in (s(x) for x in seq(lb.get("failoverPriority"))):
        if label in _TOPOLOGY:
            v.add(f"'failover_priority' for zone aware lb must not use topology label '{label}'; region- and "
                  "zone-level routing are handled automatically")
    if (seq(lb.get("failover")) or seq(lb.get("failoverPriority"))) and outlier is None:
        v.warn("outlier detection policy must be provided for failover")
    for fo in seq(lb.get("failover")):
        frm, to = s(m(fo).get("from")), s(m(fo).get("to"))
        if frm == to:
            v.add("zone aware lb failover settings must specify different regions")
        if "/" in frm or "/" in to:
            v.add("zone aware lb failover only specifies region; zone and subzone failover are handled automatically")
        if "*" in frm or "*" in to:
            v.add("zone aware lb failover region should not contain '*' wildcard")
    return v


def validate_load_balancer(lb: Any, outlier: Any) -> Validation:
    v = Validation()
    if lb is None:
        return v
    lb = m(lb)
    ch = lb.get("consistentHash")
    if isinstance(ch, dict):
        cookie = ch.get("httpCookie")
        if isinstance(cookie, dict):
            if not s(cookie.get("name")):
                v.add("name required for HttpCookie")
            names: set[str] = set()
            for attr in seq(cookie.get("attributes")):
                an = s(m(attr).get("name"))
                if not an:
                    v.add("cookie attribute name cannot be empty")
                elif an in names:
                    v.add(f"duplicate cookie attribute name: {an}")
                else:
                    names.add(an)
        if i(ch.get("minimumRingSize")):
            v.warn("consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration "
                   "instead")
            if ch.get("ringHash") is not None or ch.get("maglev") is not None:
                v.add("only one of MinimumRingSize or Maglev/Ringhash can be specified")
        ml = ch.get("maglev")
        if isinstance(ml, dict):
            size = i(ml.get("tableSize"))
            if size == 0:
                v.add("tableSize must be set for maglev")
            if size >= 5000011:
                v.add("tableSize must be less than 5000011 for maglev")
            if not _is_prime(size):
                v.add("tableSize must be a prime number for maglev")
    if lb.get("localityLbSetting") is not None and lb.get("zoneAwareLbSetting") is not None:
        v.add("only one of localityLbSetting and zoneAwareLbSetting can be set")
    v.add(_locality_lb(lb.get("localityLbSetting"), outlier), _zone_aware_lb(lb.get("zoneAwareLbSetting"), outlier))
    warm = lb.get("warmup")
    if warm is not None:
        warm = m(warm)
        if warm.get("duration") is None:
            v.add("duration is required")
        else:
            v.add(validate_duration(warm.get("duration")))
        if f(wrapped(warm.get("minimumPercent"))) > 100:
            v.add("minimumPercent value should be less than or equal to 100")
        if warm.get("aggression") is not None and f(wrapped(warm.get("aggression"))) <= 0:
            v.add("aggression should be greater than 0")
    return v


def _tunnel(t: Any) -> list[str]:
    out: list[str] = []
    if t is None:
        return out
    t = m(t)
    if s(t.get("protocol")) not in ("", "CONNECT", "POST"):
        out.append('tunnel protocol must be "CONNECT" or "POST"')
    host = s(t.get("targetHost"))
    fe, ie = validate_fqdn(host), validate_ip_address(host)
    if fe and ie:
        out.append(f"tunnel target host must be valid FQDN or IP address: {fe}; {ie}")
    pe = validate_port(i(t.get("targetPort")))
    if pe:
        out.append(f"tunnel target port is invalid: {pe}")
    return out


def validate_traffic_policy(namespace: str, tp: Any) -> Validation:
    v = Validation()
    if tp is None:
        return v
    tp = m(tp)
    keys = ("outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel",
            "proxyProtocol", "retryBudget")
    if all(tp.get(k) is None for k in keys):
        return v.add("traffic policy must have at least one field")
    if tp.get("tunnel") is not None and tp.get("proxyProtocol") is not None:
        return v.add("tunnel and proxyProtocol must not be set together")
    v.add(validate_outlier(tp.get("outlierDetection")), validate_connection_pool(tp.get("connectionPool")),
          validate_load_balancer(tp.get("loadBalancer"), tp.get("outlierDetection")),
          validate_client_tls(namespace, tp.get("tls")), _port_policies(namespace, tp.get("portLevelSettings")),
          _tunnel(tp.get("tunnel")))
    return v


def _port_policies(namespace: str, pls: Any) -> list[str]:
    out: list[str] = []
    for t in seq(pls):
        if t is None:
            out.append("traffic policy may not be null")
            continue
        t = m(t)
        if t.get("port") is None:
            out.append("portTrafficPolicy must have valid port")
        if all(t.get(k) is None for k in ("outlierDetection", "connectionPool", "loadBalancer", "tls")):
            out.append("port traffic policy must have at least one field")
        else:
            out += errs(validate_outlier(t.get("outlierDetection")), validate_connection_pool(t.get("connectionPool")),
                        validate_load_balancer(t.get("loadBalancer"), t.get("outlierDetection")),
                        validate_client_tls(namespace, t.get("tls")))
    return out


def validate_subset_name(name: str) -> str | None:
    if not name:
        return "subset name cannot be empty"
    if not is_dns1123_label(name):
        return f"subset name is invalid: {name}"
    return None


@with_metadata("DestinationRule")
def validate_destination_rule(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    v.add(validate_wildcard_domain(s(spec.get("host"))), validate_traffic_policy(namespace, spec.get("trafficPolicy")))
    names: set[str] = set()
    for subset in seq(spec.get("subsets")):
        if subset is None:
            v.add("subset may not be null")
            continue
        subset = m(subset)
        sname = s(subset.get("name"))
        if sname in names:
            v.add(f"duplicate subset names: {sname}")
        names.add(sname)
        v.add(errs(validate_subset_name(sname), validate_labels(subset.get("labels")),
                   validate_traffic_policy(namespace, subset.get("trafficPolicy"))))
    v.add(validate_export_to(namespace, seq(spec.get("exportTo")), False, spec.get("workloadSelector") is not None))
    v.add(validate_workload_selector(spec.get("workloadSelector")))
    return v


# -- Sidecar --------------------------------------------------------------------------------------------
def _sidecar_ingress_port(port: dict, bind: str) -> list[str]:
    out = errs(validate_port_name(s(port.get("name")))) if s(port.get("name")) else []
    out += errs(validate_protocol(s(port.get("protocol"))), validate_port(i(port.get("number"))))
    if bind:
        out += errs(validate_ip_address(bind))
    return out


def _sidecar_egress_port(port: dict, bind: str, capture: str) -> list[str]:
    out = errs(validate_port_name(s(port.get("name")))) if s(port.get("name")) else []
    if i(port.get("number")) == 0:
        out += errs(validate_protocol(s(port.get("protocol"))))
        if not bind.startswith(UNIX):
            out.append("sidecar: ports with 0 value must have a unix domain socket bind address")
        else:
            out += errs(_unix_address(bind[len(UNIX):]))
        if capture not in ("", "DEFAULT", "NONE"):
            out.append("sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners")
    else:
        out += errs(validate_protocol(s(port.get("protocol"))), validate_port(i(port.get("number"))))
        if bind:
            out += errs(validate_ip_address(bind))
    return out


def _split_host_port(hp: str) -> tuple[str, str, str | None]:
    """net.SplitHostPort: (host, port, error)."""
    if hp.startswith("["):
        end = hp.find("]")
        if end < 0:
            return "", "", f"address {hp}: missing ']' in address"
        host, rest = hp[1:end], hp[end + 1:]
        if not rest.startswith(":"):
            return "", "", f"address {hp}: missing port in address"
        return host, rest[1:], None
    if ":" not in hp:
        return "", "", f"address {hp}: missing port in address"
    host, _, port = hp.rpartition(":")
    if ":" in host:
        return "", "", f"address {hp}: too many colons in address"
    return host, port, None


@with_metadata("Sidecar")
def validate_sidecar(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    warning, sel_errs = validate_alpha_workload_selector(spec.get("workloadSelector"))
    if sel_errs:
        return Validation(errors=sel_errs)
    if warning:
        v.warn(f"sidecar: {warning}, will be applied to all services in namespace")
    ingress, egress = seq(spec.get("ingress")), seq(spec.get("egress"))
    if not egress and not ingress and spec.get("outboundTrafficPolicy") is None and \
            spec.get("inboundConnectionPool") is None:
        return Validation(errors=["sidecar: empty configuration provided"])
    ports: set[int] = set()
    for ing in ingress:
        if ing is None:
            v.add("sidecar: ingress may not be null")
            continue
        ing = m(ing)
        port = ing.get("port")
        if port is None:
            v.add("sidecar: port is required for ingress listeners")
            continue
        port = m(port)
        if i(port.get("targetPort")) > 0:
            v.add("targetPort has no impact on Sidecars")
        v.add(_sidecar_ingress_port(port, s(ing.get("bind"))))
        if i(port.get("number")) in ports:
            v.add("sidecar: ports on IP bound listeners must be unique")
        ports.add(i(port.get("number")))
        de = s(ing.get("defaultEndpoint"))
        if de:
            if de.startswith(UNIX):
                v.add(_unix_address(de[len(UNIX):]))
            else:
                host, sport, err = _split_host_port(de)
                v.add(err)
                if host not in ("", "127.0.0.1", "0.0.0.0", "::1", "::"):
                    v.add("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,"
                          "[::]:port,unix://filepath or unset")
                if re.fullmatch(r"[+-]?\d+", sport):
                    v.add(validate_port(int(sport)))
                else:
                    v.add(f'sidecar: defaultEndpoint port ({sport}) is not a number: strconv.Atoi: parsing '
                          f'{go_q(sport)}: invalid syntax')
        tls = ing.get("tls")
        if isinstance(tls, dict):
            if seq(tls.get("subjectAltNames")):
                v.add("sidecar: subjectAltNames is not supported in ingress tls")
            if tls.get("httpsRedirect"):
                v.add("sidecar: httpsRedirect is not supported")
            if s(tls.get("credentialName")):
                v.add("sidecar: credentialName is not currently supported")
            if seq(tls.get("credentialNames")):
                v.add("sidecar: credentialNames is not currently supported")
            if seq(tls.get("tlsCertificates")):
                v.add("sidecar: tls_certificates is not currently supported")
            if s(tls.get("mode")) in ("ISTIO_MUTUAL", "AUTO_PASSTHROUGH"):
                v.add(f"configuration is invalid: cannot set mode to {tls['mode']} in sidecar ingress tls")
            if not is_tls(parse_protocol(s(port.get("protocol")))):
                v.add("server cannot have TLS settings for non HTTPS/TLS ports")
            v.add(validate_tls_options(tls))
        cp = ing.get("connectionPool")
        v.add(validate_connection_pool(cp))
        if isinstance(cp, dict) and cp.get("http") is not None and not is_http(parse_protocol(s(port.get("protocol")))):
            v.warn(f"sidecar: HTTP connection pool settings are configured for port {i(port.get('number'))} "
                   f"({go_q(s(port.get('name')))}) but its protocol is not HTTP ({s(port.get('protocol'))}); only TCP "
                   "settings will apply")
    v.add(validate_connection_pool(spec.get("inboundConnectionPool")))
    ports = set()
    uds: set[str] = set()
    catch_all = False
    for index, eg in enumerate(egress):
        if eg is None:
            v.add("egress listener may not be null")
            continue
        eg = m(eg)
        port = eg.get("port")
        if port is None:
            if not catch_all:
                if index == len(egress) - 1:
                    catch_all = True
                else:
                    v.add("sidecar: the egress listener with empty port should be the last listener in the list")
            else:
                v.add("sidecar: egress can have only one listener with empty port")
                continue
        else:
            port = m(port)
            if i(port.get("targetPort")) > 0:
                v.add("targetPort has no impact on Sidecars")
            bind = s(eg.get("bind"))
            v.add(_sidecar_egress_port(port, bind, s(eg.get("captureMode"))))
            if i(port.get("number")) == 0:
                if bind in uds:
                    v.add("sidecar: unix domain socket values for listeners must be unique")
                uds.add(bind)
            else:
                if i(port.get("number")) in ports:
                    v.add("sidecar: ports on IP bound listeners must be unique")
                ports.add(i(port.get("number")))
        hosts = [s(h) for h in seq(eg.get("hosts"))]
        if not hosts:
            v.add("sidecar: egress listener must contain at least one host")
            continue
        ns_svcs: dict[str, dict[str, bool]] = {}
        for h in hosts:
            parts = h.split("/", 1)
            if len(parts) == 2 and not parts[0].startswith("~"):
                ns, svc = parts
                if ns == ".":
                    ns = namespace
                known = ns_svcs.setdefault(ns, {})
                if svc != "*":
                    if svc in known or known.get("*"):
                        v.warn(f"duplicated egress host: {h}")
                elif known:
                    v.warn(f"duplicated egress host: {h}")
                known[svc] = True
            v.add(namespace_slash_host(h, False))
        if ns_svcs.get("*", {}).get("*") and len(ns_svcs) != 1:
            v.warn("`*/*` host select all resources, no other hosts can be added")
    otp = spec.get("outboundTrafficPolicy")
    if isinstance(otp, dict):
        mode = s(otp.get("mode")) or "REGISTRY_ONLY"
        if mode == "ALLOW_ANY_DYNAMIC_DNS":
            v.add("sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource")
        elif otp.get("egressProxy") is not None:
            if mode != "ALLOW_ANY":
                v.add("sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode")
            else:
                ep = m(otp.get("egressProxy"))
                v.add(validate_fqdn(s(ep.get("host"))))
                if ep.get("port") is None:
                    v.add("sidecar: egress_proxy port must be non-nil")
                else:
                    v.add(validate_destination(ep))
    return v


# -- VirtualService -------------------------------------------------------------------------------------
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$")
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_PSEUDO = {":method", ":scheme", ":authority", ":path", ":status"}
RETRY_ON = frozenset({"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
                      "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
                      "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal",
                      "resource-exhausted", "unavailable"})
#: Go's http.StatusText knows these codes
HTTP_STATUS = frozenset([100, 101, 102, 103, *range(200, 209), 226, *range(300, 306), 307, 308, *range(400, 419),
                         421, 422, 423, 424, 425, 426, 428, 429, 431, 451, *range(500, 509), 510, 511])
CORS_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"})
GRPC_STATUS = frozenset({"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                         "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                         "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                         "UNAUTHENTICATED"})


def _claim_route(name: str) -> bool:
    if not name.lower().startswith("@request.auth.claims"):
        return False
    rest = name[len("@request.auth.claims"):]
    return (rest.startswith(".") and len(rest) > 1) or (rest.startswith("[") and rest.endswith("]") and len(rest) > 2)


def _header_name_or_claim(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if _claim_route(name) or name in _PSEUDO:
        return None
    return None if _HEADER_NAME.match(name) else f"header name {name} is not a valid header name"


def _internal(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def _authority(name: str) -> bool:
    return name.lower() in (":authority", "host")


def _header_op_with_authority(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if _internal(name) and not _authority(name):
        return f'invalid header {go_q(name)}: header cannot have ":" prefix'
    return None


def _header_op(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if name.lower() == "host":
        return f"invalid header {go_q(name)}: cannot set Host header"
    if _internal(name):
        return f'invalid header {go_q(name)}: header cannot have ":" prefix'
    return None


def _header_value_syntax(value: str) -> str | None:
    """validateHeaderValue: Envoy's %VAR% header value syntax."""
    if not value:
        return None
    pos, state = 0, "literal"
    n = len(value)
    while pos < n:
        ch = value[pos]
        nxt = pos + 1 < n
        if state == "literal":
            if ch == "%":
                if not nxt:
                    return "invalid header configuration. Un-escaped %"
                if value[pos + 1] == "%":
                    pos += 1
                else:
                    state = "var"
        elif state == "var":
            if ch == "%":
                state = "literal"
            elif ch == "(":
                state = "expect_array"
        elif state == "expect_array":
            if ch == "[":
                state = "expect_string"
            elif ch != " ":
                state = "string"
        elif state == "delim":
            if ch == ",":
                state = "expect_string"
            elif ch == "]":
                state = "args_end"
            elif ch != " ":
                return "invalid header configuration. Expecting ',', ']', or whitespace"
        elif state == "expect_string":
            if ch == '"':
                state = "string"
            elif ch != " ":
                return "invalid header configuration. Expecting '\"'"
        elif state == "string":
            if ch == "\\":
                if not nxt:
                    return "invalid header configuration. Un-terminated backslash in JSON string"
                pos += 1
            elif ch == ")":
                state = "var_end"
            elif ch == '"':
                state = "delim"
        elif state == "args_end":
            if ch == ")":
                state = "var_end"
            elif ch != " ":
                return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'"
        elif state == "var_end":
            if ch == "%":
                state = "literal"
            elif ch != " ":
                return "invalid header configuration. Expecting '%' or whitespace after"
        pos += 1
    if state != "literal":
        return f"invalid header configuration. Un-terminated variable expression '{value}'"
    return None


def _header_value(value: str) -> str | None:
    if _HEADER_VALUE_BAD.search(value):
        return f"header value configuration {value} is invalid"
    err = _header_value_syntax(value)
    return f"header value configuration: {err}" if err else None


def _headers_ops(headers: Any) -> list[str]:
    out: list[str] = []
    h = m(headers)
    req, resp = m(h.get("request")), m(h.get("response"))
    for name, val in list(m(req.get("add")).items()) + list(m(req.get("set")).items()):
        out += errs(_header_op_with_authority(s(name)), _header_value(s(val)))
    for name in seq(req.get("remove")):
        out += errs(_header_op(s(name)))
    for name, val in list(m(resp.get("add")).items()) + list(m(resp.get("set")).items()):
        out += errs(_header_op(s(name)), _header_value(s(val)))
    for name in seq(resp.get("remove")):
        out += errs(_header_op(s(name)))
    return out


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]|\(\?P?<?[a-zA-Z_]+>|\\[AZz]")


def _regexp(re_text: str, where: str) -> str | None:
    if len(re_text) > 1024:
        return f"{go_q(where)}: regex is too large, max length allowed is 1024"
    problem = None
    if _RE2_UNSUPPORTED.search(re_text) and not re.search(r"\(\?P<", re_text):
        problem = "error parsing regexp: invalid or unsupported Perl syntax"
    else:
        try:
            re.compile(re_text)
        except re.error as e:
            problem = f"error parsing regexp: {e}"
    if problem is None:
        return None
    return (f"{go_q(where)}: {problem}; Istio uses RE2 style regex-based match "
            "(https://github.com/google/re2/wiki/Syntax)")


def _string_match(sm: Any, where: str) -> str | None:
    sm = m(sm)
    if "prefix" in sm:
        if not s(sm.get("prefix")):
            return f"{go_q(where)}: prefix string match should not be empty"
    elif "regex" in sm:
        return _string_match_regex(sm, where)
    return None


def _string_match_regex(sm: Any, where: str) -> str | None:
    sm = m(sm)
    if "regex" not in sm or "exact" in sm or "prefix" in sm:
        return None
    if not s(sm.get("regex")):
        return f"{go_q(where)}: regex string match should not be empty"
    return _regexp(s(sm.get("regex")), where)


def validate_gateway_names(names: list, gateway_semantics: bool) -> Validation:
    v = Validation()
    for name in (s(x) for x in names):
        parts = name.split("/", 1)
        if len(parts) != 2:
            if "." in name:
                p = name.split(".")
                v.warn(f"using legacy gatewayName format {go_q(name)}; prefer the <namespace>/<name> format: "
                       f"{go_q(f'{p[1]}/{p[0]}')}")
            v.add(validate_fqdn(name))
            return v  # as Istio: the first short name ends the check
        if not parts[0] or not parts[1]:
            v.add("config namespace and gateway name cannot be empty")
        if not is_dns1123_label(parts[0]):
            v.add(f"invalid value for namespace: {go_q(parts[0])}")
        if not is_dns1123_label(parts[1]) and not gateway_semantics:
            v.add(f"invalid value for gateway name: {go_q(parts[1])}")
    return v


def validate_destination(dest: Any) -> list[str]:
    out: list[str] = []
    if dest is None:
        return out
    dest = m(dest)
    host = s(dest.get("host"))
    if host == "*":
        out.append(f"invalid destination host {host}")
    else:
        out += errs(validate_wildcard_domain(host))
    if s(dest.get("subset")):
        out += errs(validate_subset_name(s(dest.get("subset"))))
    if dest.get("port") is not None:
        out += errs(validate_port(i(m(dest.get("port")).get("number"))))
    return out


def _route_destinations(weights: list, gateway_semantics: bool, http: bool) -> list[str]:
    out: list[str] = []
    total = 0
    for w in weights:
        if w is None:
            out.append("weight may not be nil")
            continue
        w = m(w)
        if w.get("destination") is None:
            out.append("destination is required")
        if http:
            out += _headers_ops(w.get("headers"))
        if not gateway_semantics:
            out += validate_destination(w.get("destination"))
        if i(w.get("weight")) < 0:
            out.append(f"weight {i(w.get('weight'))} < 0")
        total += i(w.get("weight"))
    if len(weights) > 1 and total == 0:
        out.append("total destination weight = 0")
    return out


def _cors(policy: Any) -> list[str]:
    out: list[str] = []
    if policy is None:
        return out
    policy = m(policy)
    for origin in seq(policy.get("allowOrigins")):
        origin = m(origin)
        match = next((s(origin.get(k)) for k in ("exact", "prefix", "regex") if k in origin), "")
        if not match:
            out.append(f"'{match}' is not a valid match type for CORS allow origins")
        else:
            out += errs(_string_match_regex(origin, "corsPolicy.allowOrigins"))
    for method in (s(x) for x in seq(policy.get("allowMethods"))):
        if method not in CORS_METHODS:
            out.append(f"{go_q(method)} is not a supported HTTP method")
    for name in [s(x) for x in seq(policy.get("allowHeaders"))] + [s(x) for x in seq(policy.get("exposeHeaders"))]:
        if not name:
            out.append("header name cannot be empty")
        elif name != "*" and not _HEADER_NAME.match(name):
            out.append(f"header name {name} is not a valid header name")
    if policy.get("maxAge") is not None:
        out += errs(validate_duration(policy.get("maxAge")))
        d = parse_duration(policy.get("maxAge"))
        if d is not None and d % 1_000_000_000:
            out.append("max_age duration is accurate only to seconds precision")
    return out


def _percentage(p: Any) -> str | None:
    if p is None:
        return None
    val = f(m(p).get("value"))
    if val < 0.0 or val > 100.0 or 0.0 < val < 0.0001:
        return f"percentage {val:g} is neither 0.0, nor in range [0.0001, 100.0]"
    return None


def _fault(fault: Any) -> list[str]:
    out: list[str] = []
    if fault is None:
        return out
    fault = m(fault)
    if fault.get("abort") is None and fault.get("delay") is None:
        out.append("HTTP fault injection must have an abort and/or a delay")
    abort = fault.get("abort")
    if abort is not None:
        abort = m(abort)
        out += errs(_percentage(abort.get("percentage")))
        if "grpcStatus" in abort:
            if s(abort.get("grpcStatus")) not in GRPC_STATUS:
                out.append(f"gRPC status {go_q(s(abort.get('grpcStatus')))} is not supported. See "
                           "https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported "
                           "codes, for example 'NOT_FOUND'")
        elif "http2Error" in abort:
            out.append("HTTP/2 abort fault injection not supported yet")
        elif "httpStatus" in abort:
            out += errs(_http_status(i(abort.get("httpStatus"))))
    delay = fault.get("delay")
    if delay is not None:
        delay = m(delay)
        out += errs(_percentage(delay.get("percentage")))
        if "fixedDelay" in delay:
            out += errs(validate_duration(delay.get("fixedDelay")))
        elif "exponentialDelay" in delay:
            out += errs(validate_duration(delay.get("exponentialDelay")))
            out.append("exponentialDelay not supported yet")
    return out


def _http_status(status: int) -> str | None:
    return None if 200 <= status <= 600 else f"HTTP status {status} is not in range 200-599"


def _retry(r: Any) -> list[str]:
    out: list[str] = []
    if r is None:
        return out
    r = m(r)
    attempts = i(r.get("attempts"))
    if attempts < 0:
        out.append("attempts cannot be negative")
    if attempts == 0 and (r.get("perTryTimeout") is not None or s(r.get("retryOn")) or
                          r.get("retryRemoteLocalities") is not None):
        out.append("http retry policy configured when attempts are set to 0 (disabled)")
    if r.get("perTryTimeout") is not None:
        out += errs(validate_duration(r.get("perTryTimeout")))
    if s(r.get("retryOn")):
        for policy in s(r.get("retryOn")).split(","):
            code = int(policy) if re.fullmatch(r"[+-]?\d+", policy) else 0
            if code not in HTTP_STATUS and policy not in RETRY_ON:
                out.append(f"{go_q(policy)} is not a valid retryOn policy")
    if r.get("backoff") is not None:
        out += errs(validate_duration(r.get("backoff")))
    return out


def _redirect(rd: Any, matches: list) -> str | None:
    if rd is None:
        return None
    rd = m(rd)
    uri, prefix = s(rd.get("uri")), s(rd.get("prefixRewrite"))
    if uri and prefix:
        return "redirect may only specify one of uri or prefix_rewrite"
    if prefix:
        for match in matches:
            u = m(match).get("uri")
            if isinstance(u, dict) and "prefix" not in u:
                return "redirect prefix_rewrite requires all URI matches to use prefix match type"
    if not uri and not prefix and not s(rd.get("authority")) and "port" not in rd and "derivePort" not in rd and \
            not s(rd.get("scheme")):
        return "redirect must specify URI, authority, scheme, or port"
    code = i(rd.get("redirectCode"))
    if code and not 300 <= code <= 399:
        return f"{code} is not a valid redirect code, must be 3xx"
    if s(rd.get("scheme")) not in ("", "http", "https"):
        return 'invalid redirect scheme, must be "http" or "https"'
    if i(rd.get("port")) > 0:
        return validate_port(i(rd.get("port")))
    return None


def _direct_response(dr: Any) -> Validation:
    v = Validation()
    if dr is None:
        return v
    dr = m(dr)
    body = dr.get("body")
    if isinstance(body, dict):
        size = len(s(body.get("string")) if "string" in body else s(body.get("bytes")))
        if size > MB:
            v.add("large direct_responses may impact control plane performance, must be less than 1MB")
        elif size > 100 * KB:
            v.warn("large direct_responses may impact control plane performance")
    return v.add(_http_status(i(dr.get("status"))))


def _mirrors(mirrors: list) -> Validation:
    v = Validation()
    for mirror in mirrors:
        if mirror is None:
            v.add("mirror cannot be null")
            continue
        mirror = m(mirror)
        if mirror.get("destination") is None:
            v.add("destination is required for mirrors")
            continue
        v.add(validate_destination(mirror.get("destination")))
        if mirror.get("percentage") is not None:
            val = f(m(mirror.get("percentage")).get("value"))
            if val > 100:
                v.add(f"mirror percentage must have a max value of 100 (it has {val:f})")
            if val < 0:
                v.add(f"mirror percentage must have a min value of 0 (it has {val:f})")
    return v


def _rewrite(rw: Any) -> list[str]:
    if rw is None:
        return []
    rw = m(rw)
    uri, rr, auth = s(rw.get("uri")), rw.get("uriRegexRewrite"), s(rw.get("authority"))
    if uri and rr is not None:
        return ["rewrite may only contain one of URI or UriRegexRewrite"]
    if not uri and rr is None and not auth:
        return ["rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
                "UriRegexRewrite may be specified"]
    if rr is not None:
        rr = m(rr)
        err = ("UriRegexRewrite requires both Rewrite and Match fields to be specified"
               if not s(rr.get("match")) or not s(rr.get("rewrite"))
               else _regexp(s(rr.get("match")), "HTTPRewrite.UriRegexRewrite.Match"))
        if err:
            return [f"UriRegexRewrite has errors\n{err}"]
    return []


def _authority_rewrite(rw: Any, headers: Any) -> str | None:
    current = s(m(rw).get("authority"))
    req = m(m(headers).get("request"))
    for op in ("set", "add"):
        for k, val in m(req.get(op)).items():
            if not _authority(s(k)):
                continue
            if current:
                return f"authority header cannot be set multiple times: have {go_q(current)}, attempting to set " \
                       f"{go_q(s(val))}"
            current = s(val)
    return None


def _route_conflict(http: dict, route_type: str) -> list[str]:
    out: list[str] = []
    name = s(http.get("name"))
    if route_type == "root":
        if http.get("redirect") is not None:
            out.append(f"root HTTP route {name} must not specify redirect")
        if http.get("route") is not None:
            out.append(f"root HTTP route {name} must not specify route")
        return out
    if route_type == "delegate" and http.get("delegate") is not None:
        out.append("delegate HTTP route cannot contain delegate")
    route = seq(http.get("route"))
    if http.get("redirect") is not None:
        if route:
            out.append("HTTP route cannot contain both route and redirect")
        if http.get("fault") is not None:
            out.append("HTTP route cannot contain both fault and redirect")
        if http.get("rewrite") is not None:
            out.append("HTTP route rule cannot contain both rewrite and redirect")
        if http.get("directResponse") is not None:
            out.append("HTTP route rule cannot contain both direct_response and redirect")
    elif http.get("directResponse") is not None:
        if route:
            out.append("HTTP route cannot contain both route and direct_response")
        if http.get("fault") is not None:
            out.append("HTTP route cannot contain both fault and direct_response")
        if http.get("rewrite") is not None:
            out.append("HTTP route rule cannot contain both rewrite and direct_response")
    elif not route:
        out.append("HTTP route, redirect or direct_response is required")
    if http.get("mirror") is not None and seq(http.get("mirrors")):
        out.append("HTTP route cannot contain both mirror and mirrors")
    return out


def _route_matches(http: dict) -> list[str]:
    out: list[str] = []
    matches = [m(x) for x in seq(http.get("match")) if x is not None]
    for match in matches:
        for name, header in m(match.get("headers")).items():
            if header is None:
                out.append(f"header match {name} cannot be null")
            out += errs(_header_name_or_claim(s(name)), _string_match(header, "headers"))
        for name, header in m(match.get("withoutHeaders")).items():
            out += errs(_header_name_or_claim(s(name)))
            if header is not None and s(m(header).get("regex")) != "*":
                out += errs(_string_match(header, "withoutHeaders"))
        out += errs(_string_match_regex(match.get("uri"), "uri"), _string_match(match.get("scheme"), "scheme"),
                    _string_match(match.get("method"), "method"), _string_match(match.get("authority"), "authority"))
        for qp in m(match.get("queryParams")).values():
            out += errs(_string_match(qp, "queryParams"))
    for match in matches:
        if i(match.get("port")):
            out += errs(validate_port(i(match.get("port"))))
        out += errs(validate_labels(match.get("sourceLabels")),
                    validate_gateway_names(seq(match.get("gateways")), False))
        if s(match.get("sourceNamespace")) and not is_dns1123_label(s(match.get("sourceNamespace"))):
            out.append(f"sourceNamespace match {s(match.get('sourceNamespace'))} is invalid")
    return out


def validate_http_route(http: dict, delegate: bool, gateway_semantics: bool) -> Validation:
    route_type = "delegate" if delegate else ("root" if http.get("delegate") is not None else "independent")
    v = Validation(errors=_route_conflict(http, route_type))
    v.add(_route_matches(http), _headers_ops(http.get("headers")), _cors(http.get("corsPolicy")),
          _fault(http.get("fault")))
    if http.get("mirrorPercent") is not None:
        val = i(wrapped(http.get("mirrorPercent")))
        if val > 100:
            v.add(f"mirror_percent must have a max value of 100 (it has {val})")
        v.warn('using deprecated setting "mirrorPercent", use "mirrorPercentage" instead')
    if http.get("mirrorPercentage") is not None:
        val = f(m(http.get("mirrorPercentage")).get("value"))
        if val > 100:
            v.add(f"mirror_percentage must have a max value of 100 (it has {val:f})")
        if val < 0:
            v.add(f"mirror_percentage must have a min value of 0 (it has {val:f})")
    v.add(validate_destination(http.get("mirror")), _mirrors(seq(http.get("mirrors"))),
          _redirect(http.get("redirect"), seq(http.get("match"))), _direct_response(http.get("directResponse")),
          _retry(http.get("retries")), _rewrite(http.get("rewrite")),
          _authority_rewrite(http.get("rewrite"), http.get("headers")),
          _route_destinations(seq(http.get("route")), gateway_semantics, http=True))
    if http.get("timeout") is not None:
        v.add(validate_duration(http.get("timeout")))
    return v


def _sni_host(sni: str, vs: dict, gateway: bool) -> Validation:
    v = Validation()
    err = validate_wildcard_domain_for_gateway_vs(True, sni) if gateway else validate_wildcard_domain(sni)
    if err:
        if is_valid_ip(sni):
            return v.warn(f"using an IP address ({go_q(sni)}) goes against SNI spec and most clients do not support "
                          "this")
        return v.add(err)
    hosts = [s(h) for h in seq(vs.get("hosts"))]
    for h in hosts:
        if _subset_of(sni, h):
            return v
    return v.add(f"SNI host {go_q(sni)} is not a compatible subset of any of the virtual service hosts: "
                 f"[{', '.join(hosts)}]")


def _subset_of(n: str, o: str) -> bool:
    """host.Name.SubsetOf: n is o or n falls under o's wildcard."""
    if o.startswith("*"):
        if n.startswith("*"):
            return n[1:].endswith(o[1:])
        return n.endswith(o[1:])
    if n.startswith("*"):
        return False
    return n == o


def _tls_route(tls: Any, vs: dict, gateway: bool, gateway_semantics: bool) -> Validation:
    v = Validation()
    if tls is None:
        return v
    tls = m(tls)
    matches = seq(tls.get("match"))
    if not matches:
        v.add("TLS route must have at least one match condition")
    for match in matches:
        if match is None:
            v.add("TLS match may not be null")
            continue
        match = m(match)
        snis = [s(x) for x in seq(match.get("sniHosts"))]
        if not snis:
            v.add("TLS match must have at least one SNI host")
        for sni in snis:
            v.add(_sni_host(sni, vs, gateway))
        for sub in seq(match.get("destinationSubnets")):
            v.add(validate_ip_subnet(s(sub)))
        if i(match.get("port")):
            v.add(validate_port(i(match.get("port"))))
        v.add(validate_labels(match.get("sourceLabels")), validate_gateway_names(seq(match.get("gateways")), False))
    if not seq(tls.get("route")):
        v.add("TLS route is required")
    return v.add(_route_destinations(seq(tls.get("route")), gateway_semantics, http=False))


def _tcp_route(tcp: Any, gateway_semantics: bool) -> list[str]:
    out: list[str] = []
    if tcp is None:
        return out
    tcp = m(tcp)
    for match in seq(tcp.get("match")):
        if match is None:
            out.append("tcp match may not be nil")
            continue
        match = m(match)
        for sub in seq(match.get("destinationSubnets")):
            out += errs(validate_ip_subnet(s(sub)))
        if i(match.get("port")):
            out += errs(validate_port(i(match.get("port"))))
        out += errs(validate_labels(match.get("sourceLabels")),
                    validate_gateway_names(seq(match.get("gateways")), False))
    if not seq(tcp.get("route")):
        out.append("TCP route is required")
    return out + _route_destinations(seq(tcp.get("route")), gateway_semantics, http=False)


def _canonical(v: Any) -> Any:
    """A match as json.Marshal of the Go struct sees it: zero values omitted, keys sorted."""
    if isinstance(v, dict):
        out = {k: _canonical(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
        return {k: x for k, x in out.items() if x not in (None, "", 0, False, [], {})}
    if isinstance(v, list):
        return [_canonical(x) for x in v]
    return v


def _as_json(match: Any, http: bool) -> str:
    match = m(match) if isinstance(match, dict) else match
    if http and isinstance(match, dict) and match.get("name"):
        match = {k: x for k, x in match.items() if k != "name"}
    return json.dumps(_canonical(match), sort_keys=True)


def _route_name(route: Any, n: int, http: bool) -> str:
    name = s(m(route).get("name")) if http else ""
    return go_q(name) if name else f"#{n}"


def _request_name(match: Any, n: int, http: bool) -> str:
    name = s(m(match).get("name")) if http else ""
    return go_q(name) if name else f"#{n}"


def _exact_or_prefix(sm: Any) -> str:
    sm = m(sm)
    if s(sm.get("exact")):
        return "exact:" + s(sm.get("exact"))
    if s(sm.get("prefix")):
        return "prefix:" + s(sm.get("prefix"))
    return ""


def _gen_match(route: Any, match: Any, rn: int, mn: int) -> dict | None:
    match = m(match)
    uri = match.get("uri")
    if not isinstance(uri, dict):
        return None
    prefix = s(uri.get("prefix"))
    if not prefix:
        return None
    method = _exact_or_prefix(match.get("method")) or "exact:GET"
    return {"route": _route_name(route, rn, True), "match": _request_name(match, mn, True), "prefix": prefix,
            "port": i(match.get("port")), "method": method, "authority": _exact_or_prefix(match.get("authority")),
            "headers": {s(k): _exact_or_prefix(x) for k, x in m(match.get("headers")).items()},
            "query": {s(k): _exact_or_prefix(x) for k, x in m(match.get("queryParams")).items()},
            "without": {s(k): _exact_or_prefix(x) for k, x in m(match.get("withoutHeaders")).items()}}


def _covered(a: dict, b: dict) -> bool:
    if not b["prefix"].startswith(a["prefix"]):
        return False
    if b["port"] != a["port"]:
        return False
    for key in ("method", "authority"):
        if a[key] != b[key] and not a[key].startswith(b[key]):
            return False
    for key in ("headers", "query", "without"):
        if len(a[key]) != len(b[key]):
            return False
        for k, val in a[key].items():
            if k not in b[key]:
                return False
            if val != b[key][k] and not val.startswith(b[key][k]):
                return False
    return True


def _unreachable(routes: list, http: bool, v: Validation) -> None:
    def unused(rule: str, reason: str) -> None:
        v.warn(AnalysisAware("VirtualServiceUnreachableRule", f"virtualService rule {rule} not used ({reason})",
                             (rule, reason)))

    def ineffective(rule: str, match: str, dup: str) -> None:
        v.warn(AnalysisAware("VirtualServiceIneffectiveMatch",
                             f"virtualService rule {rule} match {match} is not used (duplicate/overlapping match in "
                             f"rule {dup})", (rule, match, dup)))

    seen: dict[str, int] = {}
    empty = -1
    prefixes: list[dict] = []
    for rn, route in enumerate(routes):
        if route is None:
            continue
        matches = seq(m(route).get("match"))
        if not matches:
            if empty >= 0:
                unused(_route_name(route, rn, http), "only the last rule can have no matches")
            empty = rn
            continue
        dups = 0
        for mn, match in enumerate(matches):
            if empty >= 0:
                unused(_route_name(route, rn, http), "route without matches defined before")
                continue
            key = _as_json(match, http)
            if key in seen:
                dn = seen[key]
                ineffective(_route_name(route, rn, http), _request_name(match, mn, http),
                            _route_name(routes[dn], dn, http))
                dups += 1
                continue
            seen[key] = rn
            if http:
                pm = _gen_match(route, match, rn, mn)
                if pm is not None:
                    prefixes.append(pm)
        if dups == len(matches):
            unused(_route_name(route, rn, http), "all matches used by prior rules")
    if len(prefixes) > 1:
        for ai, a in enumerate(prefixes):
            for b in prefixes[ai + 1:]:
                if b["prefix"] == a["prefix"]:
                    continue
                if _covered(a, b):
                    ineffective(b["route"], f"{b['match']} of prefix {b['prefix']}",
                                f"{a['match']} of prefix {a['prefix']} on {a['route']}")


@with_metadata("VirtualService")
def validate_virtual_service(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    hosts = [s(h) for h in seq(spec.get("hosts"))]
    gateways = [s(g) for g in seq(spec.get("gateways"))]
    if not hosts:
        if gateways:
            v.add("delegate virtual service must have no gateways specified")
        if seq(spec.get("tls")):
            v.add("delegate virtual service must have no tls route specified")
        if seq(spec.get("tcp")):
            v.add("delegate virtual service must have no tcp route specified")
    semantics = _annotation(obj, "internal.istio.io/route-semantics") == "gateway"
    to_gateway = False
    to_mesh = True
    if gateways:
        v.add(validate_gateway_names(gateways, semantics))
        to_gateway = "mesh" not in gateways
        to_mesh = not to_gateway
    if not to_gateway:
        for http in seq(spec.get("http")):
            for match in seq(m(http).get("match")):
                for field in ("headers", "withoutHeaders"):
                    for key in m(m(match).get(field)):
                        if _claim_route(s(key)):
                            v.add(f"JWT claim based routing (key: {key}) is only supported for gateway, found no "
                                  f"gateways: [{' '.join(gateways)}]")
    sni = any(seq(m(mt).get("sniHosts")) for t in seq(spec.get("tls")) for mt in seq(m(t).get("match")))
    all_valid = True
    for h in hosts:
        err = validate_wildcard_domain_for_gateway_vs(sni, h) if to_gateway else validate_wildcard_domain(h)
        if err:
            if not is_valid_ip(h):
                v.add(err)
                all_valid = False
        elif to_mesh and h == "*":
            v.add("wildcard host * is not allowed for virtual services bound to the mesh gateway")
            all_valid = False
    if all_valid:
        from ..util import host_matches

        for a in range(len(hosts)):
            for b in range(a + 1, len(hosts)):
                if host_matches(hosts[a], hosts[b]):
                    v.add(f"duplicate hosts in virtual service: {hosts[a]} & {hosts[b]}")
    if not seq(spec.get("http")) and not seq(spec.get("tcp")) and not seq(spec.get("tls")):
        v.add("http, tcp or tls must be provided in virtual service")
    for http in seq(spec.get("http")):
        if http is None:
            v.add("http route may not be null")
            continue
        v.add(validate_http_route(m(http), not hosts, semantics))
    for tls in seq(spec.get("tls")):
        v.add(_tls_route(tls, spec, to_gateway, semantics))
    for tcp in seq(spec.get("tcp")):
        v.add(_tcp_route(tcp, semantics))
    v.add(validate_export_to(namespace, seq(spec.get("exportTo")), False, False))
    _unreachable(seq(spec.get("http")), True, v)
    _unreachable(seq(spec.get("tcp")), False, v)
    _unreachable(seq(spec.get("tls")), False, v)
    return v


# -- ServiceEntry, WorkloadEntry, WorkloadGroup -----------------------------------------------------------
def validate_workload_entry(we: dict, service_ports: set[str] | None, allow_fqdn: bool) -> Validation:
    v = Validation()
    addr = s(we.get("address"))
    unix = False
    if not addr:
        if not s(we.get("network")):
            return v.add("address is required")
        v.warn(f"address is unset with network {go_q(s(we.get('network')))}")
    if addr.startswith(UNIX):
        unix = True
        v.add(_unix_address(addr[len(UNIX):]))
        if m(we.get("ports")):
            v.add(f"unix endpoint {addr} must not include ports")
    elif addr and not is_valid_ip(addr):
        if not allow_fqdn:
            v.add(f"endpoint address {go_q(addr)} is not a valid IP address")
        elif validate_fqdn(addr):
            v.add(f"endpoint address {go_q(addr)} is not a valid FQDN or an IP address")
    for pname, port in m(we.get("ports")).items():
        if service_ports is not None and s(pname) not in service_ports:
            v.add(f"endpoint port {i(port)} is not defined by the service entry")
        v.add(validate_port_name(s(pname)), validate_port(i(port)))
    v.add(validate_labels(we.get("labels")))
    if unix and service_ports is not None and len(service_ports) != 1:
        v.add("exactly 1 service port required for unix endpoints")
    return v


@with_metadata("WorkloadEntry")
def validate_workload_entry_kind(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    return validate_workload_entry(spec, None, True)


@with_metadata("WorkloadGroup")
def validate_workload_group(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    if spec.get("template") is None:
        return Validation(errors=["template is required"])
    meta = spec.get("metadata")
    if isinstance(meta, dict):
        lerrs = validate_labels(meta.get("labels"))
        if lerrs:
            return Validation(errors=[f"invalid labels: {lerrs[0] if len(lerrs) == 1 else multierror_text(lerrs)}"])
    return Validation(errors=_readiness_probe(spec.get("probe")))


def _readiness_probe(p: Any) -> list[str]:
    out: list[str] = []
    if p is None:
        return out
    p = m(p)
    for key in ("periodSeconds", "initialDelaySeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        if i(p.get(key)) < 0:
            out.append(f"{key} must be non-negative")
    if "httpGet" in p:
        h = p.get("httpGet")
        if h is None:
            return out + ["httpGet may not be nil"]
        h = m(h)
        out += errs(validate_port(i(h.get("port"))))
        if s(h.get("scheme")) not in ("", "HTTPS", "HTTP"):
            out.append('httpGet.scheme must be one of "HTTPS", "HTTP"')
        for header in seq(h.get("httpHeaders")):
            if header is None:
                out.append("invalid nil header")
                continue
            hn = s(m(header).get("name"))
            if not hn:
                out.append("header name cannot be empty")
            elif not re.fullmatch(r"[-A-Za-z0-9]+", hn):
                out.append(f"header name {hn} is not a valid header name")
    elif "tcpSocket" in p:
        if p.get("tcpSocket") is None:
            return out + ["tcpSocket may not be nil"]
        out += errs(validate_port(i(m(p.get("tcpSocket")).get("port"))))
    elif "exec" in p:
        if p.get("exec") is None:
            return out + ["exec may not be nil"]
        if not seq(m(p.get("exec")).get("command")):
            out.append("exec.command is required")
    else:
        out.append("unknown health check method <nil>")
    return out


def _auto_allocate(obj: dict, spec: dict) -> bool:
    """serviceentry.ShouldV2AutoAllocateIPFromConfig (PILOT_ENABLE_IP_AUTOALLOCATE defaults to true)."""
    if (s(spec.get("resolution")) or "NONE") == "NONE":
        return False
    label = m(m(obj.get("metadata")).get("labels")).get("networking.istio.io/enable-autoallocate-ip")
    if label is not None and s(label).lower() == "false":
        return False
    return not seq(spec.get("addresses"))


@with_metadata("ServiceEntry")
def validate_service_entry(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    warning, sel_errs = validate_alpha_workload_selector(spec.get("workloadSelector"))
    if sel_errs:
        return Validation(errors=sel_errs)
    if warning:
        v.warn(f"service entry: {warning}, will be applied to all services in namespace")
    endpoints = spec.get("endpoints")
    if spec.get("workloadSelector") is not None and endpoints is not None:
        v.add("only one of WorkloadSelector or Endpoints is allowed in Service Entry")
    hosts = [s(h) for h in seq(spec.get("hosts"))]
    resolution = s(spec.get("resolution")) or "NONE"
    if not hosts:
        v.add("service entry must have at least one host")
    for h in hosts:
        if h == "*":
            v.add(f"invalid host {h}")
        else:
            v.add(validate_wildcard_domain(h))
            if resolution != "DYNAMIC_DNS":
                v.add(Warn(validate_partial_wildcard(h)))
    addresses = [s(a) for a in seq(spec.get("addresses"))]
    cidr = False
    for a in addresses:
        cidr = cidr or "/" in a
        v.add(validate_ip_subnet(a))
    if cidr and resolution not in ("NONE", "STATIC"):
        v.add("CIDR addresses are allowed only for NONE/STATIC resolution types")
    auto = _auto_allocate(obj, spec)
    port_numbers: set[int] = set()
    port_names: set[str] = set()
    ports = seq(spec.get("ports"))
    for port in ports:
        if port is None:
            v.add("service entry port may not be null")
            continue
        port = m(port)
        pname, number = s(port.get("name")), i(port.get("number"))
        if pname in port_names:
            v.add(f"service entry port name {go_q(pname)} already defined")
        port_names.add(pname)
        if number in port_numbers:
            v.add(f"service entry port {number} already defined")
        port_numbers.add(number)
        if i(port.get("targetPort")):
            v.add(validate_port(i(port.get("targetPort"))))
        if not addresses and not auto and s(port.get("protocol")) in ("", "TCP"):
            v.warn("addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not "
                   "enabled")
        v.add(validate_port_name(pname), validate_protocol(s(port.get("protocol"))), validate_port(number))
    eps = seq(endpoints)
    if resolution == "NONE":
        if eps:
            v.add("no endpoints should be provided for resolution type none")
        if spec.get("workloadSelector") is not None:
            v.warn("workloadSelector should not be set when resolution mode is NONE")
    elif resolution == "STATIC":
        for ep in eps:
            if ep is None:
                v.add("endpoint cannot be nil")
                continue
            v.add(validate_workload_entry(m(ep), port_names, False))
    elif resolution in ("DNS", "DNS_ROUND_ROBIN"):
        if not eps:
            for h in hosts:
                err = validate_fqdn(h)
                if err:
                    v.add(f"hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for "
                          f"resolution mode {resolution}, {err}")
                    break
        if resolution == "DNS_ROUND_ROBIN" and len(eps) > 1:
            v.add(f"there must only be 0 or 1 endpoint for resolution mode {resolution}")
        for ep in eps:
            if ep is None:
                v.add("endpoint cannot be nil")
                continue
            ep = m(ep)
            addr = s(ep.get("address"))
            if not is_valid_ip(addr) and validate_fqdn(addr):
                v.add(f"endpoint address {go_q(addr)} is not a valid FQDN or an IP address")
            v.add(validate_labels(ep.get("labels")))
            for pname, port in m(ep.get("ports")).items():
                if s(pname) not in port_names:
                    v.add(f"endpoint port {i(port)} is not defined by the service entry")
                v.add(validate_port_name(s(pname)), validate_port(i(port)))
        if addresses:
            for port in ports:
                if port is None:
                    v.add("ports cannot be nil")
                    continue
                if is_tcp(parse_protocol(s(m(port).get("protocol")))):
                    if len(hosts) > 1:
                        v.warn("service entry can not have more than one host specified simultaneously with address "
                               "and tcp port")
                    break
    elif resolution == "DYNAMIC_DNS":
        if not hosts:
            v.add(f"at least one wildcard host must be provided for resolution type {resolution}")
        for h in hosts:
            if not h.startswith("*"):
                v.add(f"host must be wildcarded for resolution mode {resolution}")
        if addresses:
            v.add(f"addresses cannot be set for resolution type {resolution}. HTTP route domains will only be "
                  "generatedfrom the hosts field values")
        if eps:
            v.add(f"endpoints cannot be set for resolution type {resolution}. Destination IP address determined from "
                  "hostsfield values")
        for port in ports:
            if port is None:
                v.add("port cannot be nil")
                continue
            if parse_protocol(s(m(port).get("protocol"))) not in ("HTTP", "TLS", "GRPC", "HTTP2"):
                v.add(f"only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type {resolution}")
        location = s(spec.get("location")) or "MESH_EXTERNAL"
        if location not in ("MESH_EXTERNAL", "MESH_INTERNAL"):
            v.add(f"location must be MESH_EXTERNAL or MESH_INTERNAL for resolution type {resolution}")
        waypoint = s(m(m(obj.get("metadata")).get("labels")).get("istio.io/use-waypoint"))
        if location == "MESH_INTERNAL" and waypoint and waypoint.lower() != "none":
            v.add(f"location MESH_INTERNAL with resolution type {resolution} is not supported when using waypoints")
    else:
        v.add(f"unsupported resolution type {resolution}")
    if resolution != "NONE" and len(hosts) > 1:
        for port in ports:
            if port is None:
                v.add("ports cannot be nil")
                continue
            p = parse_protocol(s(m(port).get("protocol")))
            if not is_http(p) and not is_tls(p):
                v.add("multiple hosts provided with non-HTTP, non-TLS ports")
                break
    v.add(validate_export_to(namespace, seq(spec.get("exportTo")), True, False))
    return v


@with_metadata("ProxyConfig")
def validate_proxy_config(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation().add(validate_workload_selector(spec.get("selector")))
    if i(wrapped(spec.get("concurrency"))) < 0:
        v.add("concurrency must be greater than or equal to 0")
    return v


VALIDATORS.update({
    "Gateway": validate_gateway, "DestinationRule": validate_destination_rule, "Sidecar": validate_sidecar,
    "VirtualService": validate_virtual_service, "ServiceEntry": validate_service_entry,
    "WorkloadEntry": validate_workload_entry_kind, "WorkloadGroup": validate_workload_group,
    "ProxyConfig": validate_proxy_config,
})
_ = validate_dns1123_labels  # re-exported helper
