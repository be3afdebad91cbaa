"""First-match routing of an alert to a channel and an owner, with the reason written out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config.signals_file import OWNER_FROM_CRM, Route
from bot.decide.matching import all_conditions_hold, describe_condition


@dataclass(frozen=True)
class RouteDecision:
    channel: str
    owner: str | None  # a Slack user id
    reason: str
    index: int
    owner_from_crm: bool = False  # the route says `owner: crm`: the owner is looked up, not written
    owner_note: str | None = None  # where the owner came from, or which lookup step failed
    hubspot_owner_id: str | None = None  # the HubSpot owner found, whom the CRM task is assigned to


def route(routes: Sequence[Route], context: Mapping[str, Any]) -> RouteDecision:
    """The first route whose `when` holds; the file is validated to end with a default route."""
    for index, candidate in enumerate(routes):
        if candidate.when and not all_conditions_hold(candidate.when, context):
            continue
        if candidate.when:
            reason = " and ".join(describe_condition(path, value) for path, value in candidate.when.items())
        else:
            reason = "default route"
        if candidate.owner == OWNER_FROM_CRM:
            return RouteDecision(candidate.channel, None, reason, index, owner_from_crm=True)
        return RouteDecision(candidate.channel, candidate.owner, reason, index)
    raise ValueError("no route matched and no default route is configured")
