"""Network-server payloads decoded strictly: The Things Stack v3 uplinks, ChirpStack v4 up and status events."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import msgspec

#: the largest webhook body taken in (a LoRaWAN uplink with metadata is a few kilobytes)
MAX_BODY = 64 * 1024
_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")


class Malformed(Exception):
    """A payload that is not what the network server sends; the message says what is wrong."""


class _TtsGatewayIds(msgspec.Struct, frozen=True):
    gateway_id: str = ""


class _TtsRx(msgspec.Struct, frozen=True):
    gateway_ids: _TtsGatewayIds = _TtsGatewayIds()


class _TtsUplink(msgspec.Struct, frozen=True):
    f_cnt: int = 0
    decoded_payload: dict[str, Any] | None = None
    rx_metadata: list[_TtsRx] = []
    received_at: datetime | None = None


class _TtsDeviceIds(msgspec.Struct, frozen=True):
    device_id: str
    dev_eui: str | None = None


class _TtsMessage(msgspec.Struct, frozen=True):
    end_device_ids: _TtsDeviceIds
    received_at: datetime
    uplink_message: _TtsUplink | None = None


class _CsDeviceInfo(msgspec.Struct, frozen=True, rename="camel"):
    dev_eui: str
    device_name: str = ""


class _CsRx(msgspec.Struct, frozen=True, rename="camel"):
    gateway_id: str = ""


class _CsEvent(msgspec.Struct, frozen=True, rename="camel"):
    deduplication_id: str
    time: datetime
    device_info: _CsDeviceInfo
    f_cnt: int = 0
    object: dict[str, Any] | None = None
    rx_info: list[_CsRx] = []
    battery_level: float | None = None
    battery_level_unavailable: bool = False


class Uplink(msgspec.Struct, frozen=True):
    """One reading's worth of an uplink: whose, when, which fields, through which gateway."""

    dedup_key: str
    dev_eui: str
    observed_at: datetime
    fields: dict[str, Any]
    gateway_id: str | None
    battery: float | None


def _decode(body: bytes, kind: type[Any]) -> Any:
    if len(body) > MAX_BODY:
        raise Malformed("too large")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise Malformed(str(exc)) from exc


def _eui(value: str | None) -> str:
    if value is None or not _EUI.match(value):
        raise Malformed("the device EUI is missing or not 16 hexadecimal digits")
    return value.upper()


def _battery(fields: dict[str, Any]) -> float | None:
    value = fields.get("battery")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def tts_uplink(body: bytes) -> Uplink:
    """A The Things Stack v3 uplink message; idempotent on device and frame counter."""
    message: _TtsMessage = _decode(body, _TtsMessage)
    up = message.uplink_message
    if up is None:
        raise Malformed("not an uplink message")
    if up.decoded_payload is None:
        raise Malformed("no decoded_payload: configure a payload formatter")
    eui = _eui(message.end_device_ids.dev_eui)
    gateway = next((rx.gateway_ids.gateway_id for rx in up.rx_metadata if rx.gateway_ids.gateway_id), None)
    return Uplink(
        dedup_key=f"tts:{eui}:{up.f_cnt}:{(up.received_at or message.received_at).date().isoformat()}",
        dev_eui=eui,
        observed_at=up.received_at or message.received_at,
        fields=up.decoded_payload,
        gateway_id=gateway,
        battery=_battery(up.decoded_payload),
    )


def chirpstack_event(body: bytes, event: str) -> Uplink:
    """A ChirpStack v4 ``up`` event (decoded ``object``) or ``status`` event (battery level)."""
    message: _CsEvent = _decode(body, _CsEvent)
    eui = _eui(message.device_info.dev_eui)
    if event == "status":
        battery = None if message.battery_level_unavailable else message.battery_level
        return Uplink(
            dedup_key=f"chirpstack:{message.deduplication_id}",
            dev_eui=eui,
            observed_at=message.time,
            fields={},
            gateway_id=None,
            battery=battery,
        )
    if message.object is None:
        raise Malformed("no decoded object: configure a codec in the device profile")
    gateway = next((rx.gateway_id for rx in message.rx_info if rx.gateway_id), None)
    return Uplink(
        dedup_key=f"chirpstack:{message.deduplication_id}",
        dev_eui=eui,
        observed_at=message.time,
        fields=message.object,
        gateway_id=gateway,
        battery=_battery(message.object),
    )


def reading(fields: dict[str, Any], field: str) -> float | None:
    """The sensor's value in a decoded payload, or None when the uplink does not carry it."""
    value = fields.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed(f"the field {field} is not a number")
    return float(value)
