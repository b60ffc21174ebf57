"""The Istio release the sandbox declares: the oracle's pin (oracle/go.mod, oracle/README.md "The pin").

One constant for the seed's istiod and proxy images, the ``istio.io/rev``-era labels, the sidecars' node
metadata ``ISTIO_VERSION`` (``mesh-oracle serve --proxy-version``) and the generator's bootstrap. The pin is
Istio master at commit eed52ebb66ad with ``VERSION`` 1.31, which Istio's own dev builds call ``1.31-dev``
(``Makefile.core.mk``: ``VERSION ?= 1.31-dev``); istiod parses it as 1.31.x (``ParseIstioVersion``).
A test checks these against oracle/go.mod and ``mesh-oracle version``.
"""
from __future__ import annotations

ISTIO_VERSION = "1.31-dev"
#: the Go module pseudo-version of istio.io/istio in oracle/go.mod
ISTIO_MODULE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad"
ISTIO_COMMIT = "eed52ebb66ad"
