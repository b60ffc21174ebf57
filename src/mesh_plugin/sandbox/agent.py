"""The part of pilot-agent a sidecar talks to: its SDS server and its xDS proxy, on unix sockets.

In a real pod, Envoy does not talk to istiod directly: pilot-agent serves it the workload certificate and
the mesh root over SDS (secrets ``default`` and ``ROOTCA``, on the ``sds-grpc`` cluster istiod's config
names) and relays its ADS stream to istiod. The sandbox does the same per pod:

- ``SDSServer``: a minimal gRPC server (HTTP/2 without TLS, one method,
  ``envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets``) answering with certificates from the
  sandbox's mesh CA (so tests can make client certificates Envoy trusts). Protobuf is written by hand:
  only DiscoveryResponse, Any, Secret, TlsCertificate, CertificateValidationContext and DataSource.
- ``XDSRelay``: a byte relay from the pod's socket to istiod's ADS socket. ``hold()`` stops what istiod
  sends from reaching Envoy (a push that did not arrive) until ``release()``.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import Iterable

SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _WINDOW_UPDATE, _CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
_END_STREAM, _ACK, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20


# -- protobuf, by hand -----------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(raw)) + raw


def _fields(buf: bytes) -> Iterable[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
            yield num, wt, v
        elif wt == 1:
            yield num, wt, buf[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = _read_varint(buf, i)
            yield num, wt, buf[i:i + n]
            i += n
        elif wt == 5:
            yield num, wt, buf[i:i + 4]
            i += 4
        else:
            raise ValueError(f"protobuf wire type {wt}")


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def tls_certificate_secret(name: str, cert_chain_pem: bytes, key_pem: bytes) -> bytes:
    """envoy.extensions.transport_sockets.tls.v3.Secret{name, tls_certificate{certificate_chain, private_key}}."""
    tls = _field(1, _field(2, cert_chain_pem)) + _field(2, _field(2, key_pem))
    return _field(1, name) + _field(2, tls)


def validation_context_secret(name: str, root_pem: bytes) -> bytes:
    """Secret{name, validation_context{trusted_ca}}."""
    return _field(1, name) + _field(4, _field(1, _field(2, root_pem)))


def discovery_response(version: str, resources: list[bytes], type_url: str, nonce: str) -> bytes:
    body = _field(1, version)
    for r in resources:
        body += _field(2, _field(1, type_url) + _field(2, r))  # google.protobuf.Any
    return body + _field(4, type_url) + _field(5, nonce)


def parse_discovery_request(buf: bytes) -> dict:
    out: dict = {"resource_names": [], "response_nonce": "", "error": False, "version_info": ""}
    for num, wt, v in _fields(buf):
        if wt != 2:
            continue
        assert isinstance(v, bytes)
        if num == 3:
            out["resource_names"].append(v.decode())
        elif num == 5:
            out["response_nonce"] = v.decode()
        elif num == 1:
            out["version_info"] = v.decode()
        elif num == 6:
            out["error"] = True
    return out


# -- gRPC over HTTP/2 (cleartext), server side, one streaming method ----------------------------------

def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack("!I", len(payload))[1:] + bytes([kind, flags]) + struct.pack("!I", stream) + payload


def _hpack_literal(name: str, value: str) -> bytes:
    """A literal header field without indexing, new name, no Huffman (names and values < 127 bytes)."""
    n, v = name.encode(), value.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


_RESPONSE_HEADERS = b"\x88" + _hpack_literal("content-type", "application/grpc")  # :status 200 (static index 8)
_OK_TRAILERS = _hpack_literal("grpc-status", "0")


class SDSServer:
    """SDS for one workload: ``default`` (its certificate and key) and ``ROOTCA`` (the mesh root)."""

    def __init__(self, path: str, secrets: dict[str, bytes]) -> None:
        self.path = path
        self.secrets = secrets          # name -> serialized Secret
        self.requests = 0
        self._server: asyncio.AbstractServer | None = None
        self._nonce = 0

    async def start(self) -> "SDSServer":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._connection, self.path)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _respond(self, req: dict, last: dict) -> bytes | None:
        """The DiscoveryResponse for a request, or None for an ACK/NACK of what was sent."""
        names = req["resource_names"]
        if req["response_nonce"] and (req["error"] or names == last.get("names")):
            return None
        last["names"] = names
        self._nonce += 1
        resources = [self.secrets[n] for n in names if n in self.secrets]
        return discovery_response("1", resources, SECRET_TYPE, str(self._nonce))

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if await reader.readexactly(len(_PREFACE)) != _PREFACE:
                return
            writer.write(_frame(_SETTINGS, 0, 0))
            streams: dict[int, dict] = {}
            while True:
                head = await reader.readexactly(9)
                length = int.from_bytes(head[:3], "big")
                kind, flags = head[3], head[4]
                stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                payload = await reader.readexactly(length) if length else b""
                if kind == _SETTINGS and not flags & _ACK:
                    writer.write(_frame(_SETTINGS, _ACK, 0))
                elif kind == _PING and not flags & _ACK:
                    writer.write(_frame(_PING, _ACK, 0, payload))
                elif kind == _GOAWAY:
                    return
                elif kind == _RST_STREAM:
                    streams.pop(stream, None)
                elif kind in (_HEADERS, _CONTINUATION):
                    st = streams.setdefault(stream, {"buf": b"", "last": {}, "open": False})
                    if flags & _END_HEADERS and not st["open"]:
                        st["open"] = True
                        writer.write(_frame(_HEADERS, _END_HEADERS, stream, _RESPONSE_HEADERS))
                    if kind == _HEADERS and flags & _END_STREAM:
                        writer.write(_frame(_HEADERS, _END_HEADERS | _END_STREAM, stream, _OK_TRAILERS))
                        streams.pop(stream, None)
                elif kind == _DATA:
                    if flags & _PADDED and payload:
                        payload = payload[1:len(payload) - payload[0]]
                    if length:
                        inc = struct.pack("!I", length)
                        writer.write(_frame(_WINDOW_UPDATE, 0, 0, inc))
                        if not flags & _END_STREAM:
                            writer.write(_frame(_WINDOW_UPDATE, 0, stream, inc))
                    st = streams.get(stream)
                    if st is None:
                        continue
                    st["buf"] += payload
                    while len(st["buf"]) >= 5:
                        n = int.from_bytes(st["buf"][1:5], "big")
                        if len(st["buf"]) < 5 + n:
                            break
                        msg, st["buf"] = st["buf"][5:5 + n], st["buf"][5 + n:]
                        self.requests += 1
                        resp = self._respond(parse_discovery_request(msg), st["last"])
                        if resp is not None:
                            writer.write(_frame(_DATA, 0, stream, b"\0" + struct.pack("!I", len(resp)) + resp))
                    if flags & _END_STREAM:
                        writer.write(_frame(_HEADERS, _END_HEADERS | _END_STREAM, stream, _OK_TRAILERS))
                        streams.pop(stream, None)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()


class XDSRelay:
    """Relays a pod's ADS connections to istiod's socket; ``hold()`` delays istiod's pushes to this pod."""

    def __init__(self, path: str, upstream: str) -> None:
        self.path = path
        self.upstream = upstream
        self.connections = 0
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> "XDSRelay":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._connection, self.path)
        return self

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @property
    def held(self) -> bool:
        return not self._open.is_set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._open.set()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, gate: bool) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if gate:
                    await self._open.wait()
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_unix_connection(self.upstream)
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, uw}
        tasks = {asyncio.ensure_future(self._pump(reader, uw, False)),
                 asyncio.ensure_future(self._pump(ur, writer, True))}
        self._tasks |= tasks
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            self._tasks -= tasks
            self._writers -= {writer, uw}
            writer.close()
            uw.close()
