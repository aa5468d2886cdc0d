"""HappyTalk's two service-history endpoints, and where each lives."""

from __future__ import annotations

from dataclasses import dataclass, field

ENVIRONMENTS = ("production", "patch")


@dataclass(frozen=True)
class Endpoint:
    """One way to ask HappyTalk for service history: its path, hosts and extra body fields."""

    name: str
    path: str
    production_url: str
    patch_url: str
    body: dict[str, str] = field(default_factory=dict)

    def base_url(self, environment: str) -> str:
        """The host of `environment`: HappyTalk's production or its patch environment."""
        return self.patch_url if environment == "patch" else self.production_url


CUSTOMER = Endpoint(
    name="customer",
    path="/user/api/service_history/format/json",
    production_url="https://customer.happytalk.io",
    patch_url="https://patch-customer.happytalk.io",
)
# The newer developer-center endpoint answers SIEM strings unless asked for the raw records,
# which keep the same fields (logins included) as the customer endpoint.
BND = Endpoint(
    name="bnd",
    path="/user/api/service-history",
    production_url="https://bnd.happytalk.io",
    patch_url="https://patch-bnd.happytalk.io",
    body={"format": "raw"},
)
ENDPOINTS = {endpoint.name: endpoint for endpoint in (CUSTOMER, BND)}
