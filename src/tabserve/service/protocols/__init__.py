"""Wire formats of other serving ecosystems, decoded to and encoded from the predict core.

One codec module per protocol (``oip``: the Open Inference Protocol v2 with its
binary tensor extension; ``kserve_v1``; ``mlflow``). Codecs know nothing of
HTTP frameworks: the route modules in ``tabserve.service`` hand them bytes and
send back what they return, so every protocol shares one core and one set of checks.
"""

from __future__ import annotations

from tabserve.errors import TabserveError


class ProtocolError(TabserveError):
    """A request that breaks its protocol's own rules (a bad tensor, a missing key); a 400."""
