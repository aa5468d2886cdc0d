"""HappyTalk's calls: one `Api` per path, with the hosts that serve it and its fixed fields."""

from __future__ import annotations

from dataclasses import dataclass, field

ENVIRONMENTS = ("production", "patch")
CUSTOMER_HOST = "https://customer.happytalk.io"
PATCH_CUSTOMER_HOST = "https://patch-customer.happytalk.io"


@dataclass(frozen=True)
class Api:
    """One HappyTalk call: its path, its hosts, the fields it always sends, and a 404's hint."""

    name: str
    path: str
    production_url: str = CUSTOMER_HOST
    patch_url: str = PATCH_CUSTOMER_HOST
    body: dict[str, str] = field(default_factory=dict)
    not_found: str = "no such HappyTalk API at this URL: check api_url"

    def base_url(self, environment: str) -> str:
        """The host of `environment`: HappyTalk's production or its patch environment."""
        return self.patch_url if environment == "patch" else self.production_url


def _service_history_not_found(name: str) -> str:
    return (
        f"no '{name}' endpoint at this URL: check the `endpoint` setting, customer or bnd, "
        "and api_url"
    )


# The two service-history endpoints the `endpoint` setting chooses from.
CUSTOMER = Api(
    name="customer",
    path="/user/api/service_history/format/json",
    not_found=_service_history_not_found("customer"),
)
# The newer developer-center endpoint answers SIEM strings unless asked for the raw records,
# which keep the same fields (logins included) as the customer endpoint.
BND = Api(
    name="bnd",
    path="/user/api/service-history",
    production_url="https://bnd.happytalk.io",
    patch_url="https://patch-bnd.happytalk.io",
    body={"format": "raw"},
    not_found=_service_history_not_found("bnd"),
)
ENDPOINTS = {endpoint.name: endpoint for endpoint in (CUSTOMER, BND)}

# The consultation calls, on the customer host whichever service-history endpoint is chosen.
ROOM_LIST = Api(name="chat_room_lists", path="/user/api/chat_room_lists/format/json")
ROOM_DATA = Api(name="chat_data", path="/user/api/chat_data/format/json")
