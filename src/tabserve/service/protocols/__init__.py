"""Every wire format the server speaks, each a package decoding to and encoding from the predict core.

One package per protocol (``tabserve``: tabserve's own /predict; ``oip``: the
Open Inference Protocol v2 with its binary tensor extension; ``kserve_v1``;
``mlflow``), each with its codec, its declared FastAPI routes and, where it has
a hot path, its adapter for the raw-ASGI dispatcher (the interface is in
``adapter.py``). Codecs know nothing of HTTP frameworks: adapters and routes
hand them bytes and send back what they return, so every protocol shares one
core and one set of checks; ``errors.py`` words the non-problem+json errors.
"""

from __future__ import annotations

from tabserve.errors import TabserveError


class ProtocolError(TabserveError):
    """A request that breaks its protocol's own rules (a bad tensor, a missing key); a 400."""
