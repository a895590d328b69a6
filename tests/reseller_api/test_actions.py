"""The API's actions, each defined once (``shop.reseller_api.actions``): every form has its handler and its documentation."""

from __future__ import annotations

import json

import pytest

from shop.reseller_api import handlers
from shop.reseller_api.actions import ACTIONS, Action, action_find

FORMS = [pytest.param(definition, id=f"{definition.action}:{definition.selector or '-'}") for definition in ACTIONS]


@pytest.mark.parametrize(
    ("action", "params", "handler"),
    [
        ("services", {}, handlers.do_services),
        ("add", {"service": "1", "link": "https://a.com", "quantity": "100"}, handlers.do_add),
        ("balance", {"order": "5"}, handlers.do_balance),  # a stray parameter chooses nothing
        ("status", {"order": "5"}, handlers.do_status),
        ("status", {"orders": "5,6"}, handlers.do_status_many),
        ("status", {"order": "", "orders": "5,6"}, handlers.do_status_many),
        ("status", {"order": "  ", "orders": "5"}, handlers.do_status_many),  # blank is not given
        ("status", {"order": "5", "orders": "5,6"}, handlers.do_status),  # both: the single form, listed first
        ("refill", {"order": "5"}, handlers.do_refill),
        ("refill", {"orders": "5,6"}, handlers.do_refill_many),
        ("refill_status", {"refill": "1"}, handlers.do_refill_status),
        ("refill_status", {"refills": "1,2"}, handlers.do_refill_status_many),
        ("cancel", {"order": "5"}, handlers.do_cancel),
        ("cancel", {"orders": "5,6"}, handlers.do_cancel_many),
    ],
)
def test_the_form_of_an_action_is_chosen_by_the_parameter_given(action: str, params: dict[str, str], handler) -> None:
    definition = action_find(action, params)
    assert definition is not None and definition.handler is handler


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("status", {}),  # no form of status without an id
        ("status", {"order": " "}),
        ("refill", {"refill": "1"}),  # another action's selector
        ("cancel", {}),
        ("explode", {"order": "1"}),
        ("", {}),
        ("Status", {"order": "1"}),  # action names are matched exactly
    ],
)
def test_an_action_without_a_matching_form_is_none(action: str, params: dict[str, str]) -> None:
    assert action_find(action, params) is None


def test_every_form_has_its_own_handler_from_the_handlers_module() -> None:
    used = [definition.handler for definition in ACTIONS]
    assert len(set(used)) == len(ACTIONS)
    assert all(handler.__module__ == handlers.__name__ and handler.__name__.startswith("do_") for handler in used)


def test_every_action_has_one_form_without_a_selector_or_each_form_has_its_own() -> None:
    for name in {definition.action for definition in ACTIONS}:
        selectors = [definition.selector for definition in ACTIONS if definition.action == name]
        assert selectors == [""] or ("" not in selectors and len(set(selectors)) == len(selectors)), name


@pytest.mark.parametrize("definition", FORMS)
def test_every_form_is_documented_with_an_example_that_chooses_it(definition: Action) -> None:
    declared = {param.name for param in definition.params}
    assert {"key", "action"} <= declared and definition.title
    assert definition.example["action"] == definition.action
    assert set(definition.example) <= declared - {"key"}  # the key is the reader's own
    required = {param.name for param in definition.params if param.required} - {"key"}
    assert required <= set(definition.example)
    assert not definition.selector or definition.selector in required
    assert action_find(definition.action, definition.example) is definition
    assert definition.reply is not None and json.loads(json.dumps(definition.reply)) == definition.reply
    assert all(param.description for param in definition.params)
