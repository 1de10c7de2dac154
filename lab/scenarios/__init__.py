"""The scenario catalogue and `lab matrix`: does a client work behind each network?

Owns the static catalogue (`catalogue`), a scenario of a running lab and its verdict
rules (`scenario`), the environment a client gets (`clientenv`, and `jvm` for
Java's), the DC's count of a run's wrong passwords (`lockout`), the host-side fault
gateways (`fault_gateway`), running clients bounded in time (`processes`), the
matrix run (`matrix`) and its reports (`reports`). It may import `lab.stack`,
`lab.clients`, `lab.endpoints`, `lab.faults.client` and the root modules.
"""

# What users import (`from lab.scenarios import SPECS`), gathered from the owners.
from typing import TYPE_CHECKING

from lab.scenarios.catalogue import NAMES, SPECS, Spec, spec

if TYPE_CHECKING:
    from lab.scenarios.scenario import Scenario, Verdict, build_scenarios

__all__ = ["NAMES", "SPECS", "Scenario", "Spec", "Verdict", "build_scenarios", "spec"]


def __getattr__(name: str):
    # the scenario module brings the endpoints, the DC's client and urllib: every `lab`
    # command imports this package (`lab watch` its evidence), few need those
    if name in ("Scenario", "Verdict", "build_scenarios"):
        from lab.scenarios import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
