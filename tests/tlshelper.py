"""Client TLS contexts with SPIFFE certificates from a mesh CA, for mTLS requests to real Envoy sidecars."""
from __future__ import annotations

import os
import ssl
import tempfile


def client_context(ca, namespace: str, service_account: str) -> ssl.SSLContext:
    kp = ca.issue(namespace, service_account)
    d = tempfile.mkdtemp()
    for n, data in (("c.pem", kp.cert_pem), ("k.pem", kp.key_pem), ("ca.pem", ca.cert_pem)):
        with open(os.path.join(d, n), "wb") as fh:
            fh.write(data)
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(os.path.join(d, "c.pem"), os.path.join(d, "k.pem"))
    return ctx
