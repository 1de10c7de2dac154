"""Faults on demand: Toxiproxy's toxics and HTTP API, on Twisted.

A library that knows nothing of Docker: `Proxies`/`Proxy` (lab.faults.proxy)
forward TCP ports through chains of toxics (lab.faults.toxics), `ControlAPI`
(lab.faults.api) is Toxiproxy's HTTP API over them, `python3 -m lab.faults`
runs both, and lab.faults.client drives that API (sync, or with Deferreds).
Server modules use only the standard library and Twisted (22.4 and later).
"""

from lab.faults.schema import ATTRIBUTES, ApiError, FaultRequestError, Toxic, parse_assignments

__all__ = ["ATTRIBUTES", "ApiError", "Toxic", "FaultRequestError", "parse_assignments"]
