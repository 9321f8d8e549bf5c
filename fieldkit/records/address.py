"""A customer's address worded the way Chinese addresses are written: 小区 楼栋-单元-楼层-房号.

One light formatter (only :mod:`fieldkit.i18n`), shared by the repository, the handover
form and the start-up glance (which reads SQLite directly and must stay import-light).
"""

from __future__ import annotations

from typing import Protocol

from fieldkit.i18n import _


class HasAddress(Protocol):
    @property
    def community(self) -> str | None: ...
    @property
    def building(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def floor(self) -> str | None: ...
    @property
    def room(self) -> str | None: ...
    @property
    def address_detail(self) -> str | None: ...


def address_text(
    community: str | None,
    building: str | None,
    unit: str | None,
    floor: str | None,
    room: str | None,
    detail: str | None,
) -> str:
    """小区 楼栋 单元 楼层 房号 详细地址, leaving out what is not known."""
    parts = []
    if community:
        parts.append(community)
    if building:
        parts.append(_("building {b}").format(b=building))
    if unit:
        parts.append(_("unit {u}").format(u=unit))
    if floor:
        parts.append(_("floor {f}").format(f=floor))
    if room:
        parts.append(_("room {r}").format(r=room))
    if detail:
        parts.append(detail)
    return " ".join(parts)


def format_address(customer: HasAddress) -> str:
    """The customer's address (see :func:`address_text`)."""
    return address_text(
        customer.community,
        customer.building,
        customer.unit,
        customer.floor,
        customer.room,
        customer.address_detail,
    )
