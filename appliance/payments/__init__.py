"""Offline card payments: the limits an airline sets for what may be taken in the air, and the hot-card list.

- `config` the `[payments]` section (limits in minor units of `currency`)
- `desk`   the PaymentDesk service (appliance.ports.PAYMENTS): the processor's public key and the hot-card list
           from the active bundle, the limits checked against the payments pending in the outbox, the append

The cabin server never holds a card: the passenger's browser encrypts it (JWE) to the processor's public key,
and the desk sees only the JWE, the amount, the brand, the last four digits and the client's address.
"""

from __future__ import annotations

from typing import Any

from appliance import ports
from appliance.core.spec import ComponentSpec, deferred
from appliance.payments.config import PaymentsConfig


def _status(desk: Any) -> Any:
    return desk.status()


COMPONENT = ComponentSpec(
    name="payments",
    config=PaymentsConfig,
    build=deferred("appliance.payments.desk:build"),
    provides=(ports.PAYMENTS,),
    requires=(ports.OUTBOX,),
    uses=(ports.CONTENT,),
    status={"payments": _status},
)
