"""Device trials (rules D1-D9), by part: the shipment and its state table
(`domain/shipments.py`), the rules it checks (`domain/device_rules.py`), and the extension
requests the trials team decides (`domain/device_extensions.py`).

This module names them together, for the store's mapping and the device use cases.
"""

from trialhub.domain.device_extensions import (
    EXTENSION_DECISIONS,
    DeviceExtensionRequest,
    ExtensionDecision,
    device_end,
    trial_device_cap,
)
from trialhub.domain.device_rules import (
    DEMO_ORDER,
    RETURN_INSTRUCTIONS,
    SHIPPABLE_STATUSES,
    DeviceLine,
    DeviceOrder,
    DeviceSerial,
    Recipient,
    device_trial_cap,
    is_demo_order,
    normalize_serial,
    return_carrier,
    return_instructions,
    validate_order,
)
from trialhub.domain.shipments import (
    SHIPMENT_STATES,
    DeviceShipment,
    ReturnCheck,
    ShipmentStatus,
    ShippedDevice,
    check_return,
)

__all__ = [
    "DEMO_ORDER",
    "EXTENSION_DECISIONS",
    "RETURN_INSTRUCTIONS",
    "SHIPMENT_STATES",
    "SHIPPABLE_STATUSES",
    "DeviceExtensionRequest",
    "DeviceLine",
    "DeviceOrder",
    "DeviceSerial",
    "DeviceShipment",
    "ExtensionDecision",
    "Recipient",
    "ReturnCheck",
    "ShipmentStatus",
    "ShippedDevice",
    "check_return",
    "device_end",
    "device_trial_cap",
    "is_demo_order",
    "normalize_serial",
    "return_carrier",
    "return_instructions",
    "trial_device_cap",
    "validate_order",
]
