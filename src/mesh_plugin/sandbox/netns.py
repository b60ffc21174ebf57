"""Pod networking for the sandbox: a network namespace per pod, a bridge, and istio-init's redirection.

What a node does for its pods, done with Linux itself and nothing installed:

- a "node" namespace holds the bridge ``br0`` (10.244.0.1/16, the pod network's gateway);
- each pod gets its own namespace with ``eth0`` (a veth whose peer is on the bridge) carrying the pod's
  ``status.podIP``, so istiod's endpoints (pod IPs) are where the apps and sidecars really are;
- in a pod with a sidecar, nat rules do what istio-init's iptables do (REDIRECT mode): TCP the app sends
  to the Service CIDR goes to Envoy's 15001, TCP arriving on the pod's interface goes to Envoy's 15006.
  The rules are written with nftables over netlink (``nft``/``iptables`` binaries are not needed).

Namespaces are held by file descriptors of this process only (no ``/run/netns`` entry): closing them, or
this process dying, frees them; nothing is left on the machine. A socket made in a namespace stays in it,
so the sandbox makes sockets there (``NetNS.socket``) and uses them from any thread.
"""
from __future__ import annotations

import concurrent.futures
import ctypes
import ipaddress
import os
import socket
import struct
import subprocess
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NODE_IP = "10.244.0.1"
POD_PREFIX = 16
#: the Service (ClusterIP) range: the seed's and the oracle's ClusterIPs are in it
SERVICE_CIDR = "10.96.0.0/12"
#: Envoy's ports istio-init redirects to (REDIRECT mode)
OUTBOUND_CAPTURE_PORT = 15001
INBOUND_CAPTURE_PORT = 15006

_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
    return _libc


def _setns(fd: int) -> None:
    if _lib().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread (namespace changes stay in that thread) and return its result."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["error"] = e

    t = threading.Thread(target=run, name="sandbox-netns")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def available() -> tuple[bool, str]:
    """Can this process make network namespaces (root, Linux, ``ip`` on PATH)? (ok, reason if not)."""
    if not os.path.exists("/proc/thread-self/ns/net"):
        return False, "no network namespaces (/proc/thread-self/ns/net missing)"
    if not _which("ip"):
        return False, "`ip` (iproute2) is not on PATH"
    try:
        ns = NetNS.create("probe")
    except OSError as e:
        return False, f"cannot create a network namespace: {e}"
    ns.close()
    return True, ""


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)),
                                      None)


class NetNS:
    """A network namespace held by a file descriptor, with a worker thread that lives in it."""

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls, name: str) -> "NetNS":
        def make() -> int:
            if _lib().unshare(CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
            return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

        return cls(name, _in_thread(make))

    # -- doing things inside -------------------------------------------------------------------
    def run(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` in a thread that is in this namespace (one worker thread per namespace)."""
        with self._lock:
            if self.fd < 0:
                raise OSError(f"the network namespace of {self.name} is closed")
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix=f"netns-{self.name}", initializer=_setns, initargs=(self.fd,))
            future = self._pool.submit(fn)
        return future.result()

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket in this namespace (usable from any thread)."""
        return self.run(lambda: socket.socket(family, kind))

    def listen(self, host: str, port: int, backlog: int = 128) -> socket.socket:
        def make() -> socket.socket:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(backlog)
            s.setblocking(False)
            return s

        return self.run(make)

    def connect(self, host: str, port: int, timeout: float = 5.0) -> socket.socket:
        s = self.socket()
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except BaseException:
            s.close()
            raise
        return s

    def preexec(self) -> Callable[[], None]:
        """A ``preexec_fn`` that moves the child into this namespace (before exec)."""
        fd = self.fd

        def enter() -> None:  # pragma: no cover - runs in the child
            _setns(fd)

        return enter

    def ip(self, commands: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        """Run ``ip -batch -`` in this namespace."""
        ip = _which("ip") or "ip"
        p = subprocess.run([ip, "-batch", "-"], input="\n".join(commands) + "\n", text=True, capture_output=True,
                           preexec_fn=self.preexec(), pass_fds=(self.fd, *pass_fds), timeout=30)
        if p.returncode != 0:
            raise OSError(f"ip in namespace {self.name} failed: {p.stderr.strip()}")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            fd, self.fd = self.fd, -1
        if pool is not None:
            pool.shutdown(wait=True)
        if fd >= 0:
            os.close(fd)


class PodNetwork:
    """The node namespace with its bridge, and one namespace per pod on it."""

    def __init__(self) -> None:
        self.node = NetNS.create("node")
        self.pods: dict[str, NetNS] = {}
        self.ips: dict[str, str] = {}
        try:
            self.node.ip(["link set lo up", "link add br0 type bridge", "link set br0 up",
                          f"addr add {NODE_IP}/{POD_PREFIX} dev br0"])
        except BaseException:
            self.node.close()
            raise

    def add_pods(self, pods: dict[str, tuple[str, bool]]) -> None:
        """Create the pods' namespaces: {key: (pod IP, captured by a sidecar)}; one ``ip`` call each."""
        news = {key: NetNS.create(key) for key in pods}
        self.pods.update(news)
        base = len(self.ips)
        node_cmds = []
        for i, (key, ns) in enumerate(news.items()):
            node_cmds += [f"link add vp{base + i} type veth peer name eth0 netns /proc/self/fd/{ns.fd}",
                          f"link set vp{base + i} master br0", f"link set vp{base + i} up"]
        self.node.ip(node_cmds, pass_fds=tuple(ns.fd for ns in news.values()))
        for key, ns in news.items():
            ip, captured = pods[key]
            self.ips[key] = ip
            ns.ip(["link set lo up", f"addr add {ip}/{POD_PREFIX} dev eth0", "link set eth0 up",
                   "route add default dev eth0"])
            if captured:
                ns.run(lambda: redirect_rules(SERVICE_CIDR, OUTBOUND_CAPTURE_PORT, INBOUND_CAPTURE_PORT))

    def close(self) -> None:
        for ns in self.pods.values():
            ns.close()
        self.pods.clear()
        self.node.close()


# -- nftables over netlink -------------------------------------------------------------------------
# The kernel's nf_tables API (include/uapi/linux/netfilter/nf_tables.h): a batch of NEWTABLE, NEWCHAIN and
# NEWRULE messages between BATCH_BEGIN and BATCH_END, each rule a list of expressions over registers.

_NETLINK_NETFILTER = 12
_NFNL_SUBSYS_NFTABLES = 10
_NFT_MSG_NEWTABLE, _NFT_MSG_NEWCHAIN, _NFT_MSG_NEWRULE = 0, 3, 6
_NFNL_MSG_BATCH_BEGIN, _NFNL_MSG_BATCH_END = 0x10, 0x11
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_CREATE, _NLM_F_APPEND = 0x1, 0x4, 0x400, 0x800
_NLA_F_NESTED = 0x8000
_NLMSG_ERROR = 2
_NFPROTO_IPV4 = 2
_NF_INET_PRE_ROUTING, _NF_INET_LOCAL_OUT = 0, 3
_NF_IP_PRI_NAT_DST = -100
_REG1 = 1  # NFT_REG_1
_NFT_META_L4PROTO = 16
_NFT_PAYLOAD_NETWORK_HEADER = 1
_NFT_CMP_EQ = 0


def _attr(kind: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * (-n % 4)


def _nest(kind: int, *parts: bytes) -> bytes:
    return _attr(kind | _NLA_F_NESTED, b"".join(parts))


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("!I", value & 0xFFFFFFFF))


def _data(kind: int, raw: bytes) -> bytes:
    return _nest(kind, _attr(1, raw))  # NFTA_DATA_VALUE


def _expr(name: str, *attrs: bytes) -> bytes:
    return _nest(1, _str(1, name), _nest(2, *attrs))  # NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA }


def _tcp() -> list[bytes]:
    return [_expr("meta", _u32(2, _NFT_META_L4PROTO), _u32(1, _REG1)),
            _expr("cmp", _u32(1, _REG1), _u32(2, _NFT_CMP_EQ), _data(3, b"\x06"))]


def _daddr_in(cidr: str) -> list[bytes]:
    net = ipaddress.ip_network(cidr)
    mask = net.netmask.packed
    return [_expr("payload", _u32(1, _REG1), _u32(2, _NFT_PAYLOAD_NETWORK_HEADER), _u32(3, 16), _u32(4, 4)),
            _expr("bitwise", _u32(1, _REG1), _u32(2, _REG1), _u32(3, 4), _data(4, mask), _data(5, b"\0" * 4)),
            _expr("cmp", _u32(1, _REG1), _u32(2, _NFT_CMP_EQ), _data(3, net.network_address.packed))]


def _redirect(port: int) -> list[bytes]:
    return [_expr("immediate", _u32(1, _REG1), _data(2, struct.pack("!H", port))),
            _expr("redir", _u32(1, _REG1), _u32(2, _REG1))]


def _nlmsg(kind: int, flags: int, seq: int, family: int, body: bytes, res_id: int = 0) -> bytes:
    payload = struct.pack("=BBH", family, 0, socket.htons(res_id)) + body
    return struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload


def _nft_batch(messages: list[tuple[int, int, bytes]]) -> None:
    sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
    try:
        sk.bind((0, 0))
        seq = 1
        out = [_nlmsg(_NFNL_MSG_BATCH_BEGIN, _NLM_F_REQUEST, seq, 0, b"", _NFNL_SUBSYS_NFTABLES)]
        for kind, flags, body in messages:
            seq += 1
            out.append(_nlmsg((_NFNL_SUBSYS_NFTABLES << 8) | kind, _NLM_F_REQUEST | _NLM_F_ACK | flags, seq,
                              _NFPROTO_IPV4, body))
        out.append(_nlmsg(_NFNL_MSG_BATCH_END, _NLM_F_REQUEST, seq + 1, 0, b"", _NFNL_SUBSYS_NFTABLES))
        sk.send(b"".join(out))
        acked = 0
        while acked < len(messages):
            buf = sk.recv(65536)
            off = 0
            while off + 16 <= len(buf):
                length, kind, _flags, sq, _pid = struct.unpack_from("=IHHII", buf, off)
                if kind == _NLMSG_ERROR:
                    err = struct.unpack_from("=i", buf, off + 16)[0]
                    if err:
                        raise OSError(-err, f"nftables message {sq}: {os.strerror(-err)}")
                    acked += 1
                off += (length + 3) & ~3
    finally:
        sk.close()


def redirect_rules(service_cidr: str, outbound_port: int, inbound_port: int, table: str = "istio") -> None:
    """In the calling thread's namespace, what istio-init sets up in REDIRECT mode, in nftables terms:

        table ip istio {
          chain output     { type nat hook output priority -100;     meta l4proto tcp ip daddr SERVICE_CIDR redirect to :15001 }
          chain prerouting { type nat hook prerouting priority -100; meta l4proto tcp redirect to :15006 }
        }

    Only the Service range is captured on the way out (Envoy's own upstream connections go to pod IPs),
    and everything arriving from the pod network on the way in (loopback traffic does not pass prerouting).
    """
    t = _str(1, table)
    msgs = [(_NFT_MSG_NEWTABLE, _NLM_F_CREATE, t)]
    for chain, hook in (("output", _NF_INET_LOCAL_OUT), ("prerouting", _NF_INET_PRE_ROUTING)):
        msgs.append((_NFT_MSG_NEWCHAIN, _NLM_F_CREATE,
                     t + _str(3, chain) + _nest(4, _u32(1, hook), _u32(2, _NF_IP_PRI_NAT_DST)) + _str(7, "nat")))
    rules = {"output": _tcp() + _daddr_in(service_cidr) + _redirect(outbound_port),
             "prerouting": _tcp() + _redirect(inbound_port)}
    for chain, exprs in rules.items():
        msgs.append((_NFT_MSG_NEWRULE, _NLM_F_CREATE | _NLM_F_APPEND, t + _str(2, chain) + _nest(4, *exprs)))
    _nft_batch(msgs)


def original_dst(sock: socket.socket) -> tuple[str, int]:
    """SO_ORIGINAL_DST of an accepted, redirected connection (what Envoy's original_dst filter reads)."""
    raw = sock.getsockopt(socket.SOL_IP, 80, 16)
    port, addr = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(addr), port
