"""Tabs and header flags that higher apps add to the patient card, registered at start-up.

The card belongs to `patients`, but documents, consents, invoices… belong to apps above it, which this app never
imports. Such an app registers in its AppConfig.ready():

    register_tab("documents", _("Documents"), "records/_card_documents.html", documents_tab, order=50)
    register_flag("missing_documents", missing_documents_flag)

Actions on chosen patients (a button on the card, and for the checked rows of the search results) work the same:

    register_action("send_message", _("Send message"), "notifications:send", may_send)

The button POSTs the patient ids (`patients`) to the action's URL, so no personal data ends up in a URL;
`allowed(user, organisation)` decides whether the user sees it (the action's own view checks again).

`context(user, patient)` returns what the tab's template needs (it is available there as `tab_data`, with
`tab_data.badge` shown next to the tab's name when set), or None when the user may not see the tab at all (e.g.
medical data for the desk roles); `flag(user, patient)` returns the value the card header
shows under that name (None: not known). Both run on every card view, so keep them to a few queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TabContext = Callable[[Any, Any], dict[str, Any] | None]
FlagValue = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class CardTab:
    name: str
    label: Any
    template: str
    context: TabContext
    order: int = 100


@dataclass(frozen=True)
class PatientAction:
    name: str
    label: Any
    url_name: str
    allowed: Callable[[Any, Any], bool]
    order: int = 100


# The card's own tabs, placed among the registered ones by the same `order`: the order is timeline,
# appointments, documents, medical, photos, notes, relatives, consents; then billing, consultations and details.
BUILT_IN_ORDER = {"timeline": 0, "notes": 56, "relatives": 58, "details": 95}

_tabs: dict[str, CardTab] = {}
_flags: dict[str, FlagValue] = {}
_actions: dict[str, PatientAction] = {}


def register_tab(name: str, label: Any, template: str, context: TabContext, order: int = 100) -> None:
    _tabs[name] = CardTab(name=name, label=label, template=template, context=context, order=order)


def register_flag(name: str, value: FlagValue) -> None:
    _flags[name] = value


def tabs() -> list[CardTab]:
    return sorted(_tabs.values(), key=lambda tab: (tab.order, tab.name))


def tab_names() -> list[str]:
    return [tab.name for tab in tabs()]


def flag_values(user: Any, patient: Any) -> dict[str, Any]:
    return {name: value(user, patient) for name, value in _flags.items()}


def register_action(
    name: str, label: Any, url_name: str, allowed: Callable[[Any, Any], bool], order: int = 100
) -> None:
    _actions[name] = PatientAction(name=name, label=label, url_name=url_name, allowed=allowed, order=order)


def actions_for(user: Any, organisation: Any) -> list[PatientAction]:
    """The actions on chosen patients this user may start, in order."""
    return sorted(
        (action for action in _actions.values() if action.allowed(user, organisation)),
        key=lambda action: (action.order, action.name),
    )


def tab_order(name: str) -> int:
    return _tabs[name].order if name in _tabs else BUILT_IN_ORDER.get(name, 100)
