"""Every model field that can hold a subject's identifier is covered by a privacy store.

Before: the click webhook outbox (``ClickWebhookDelivery.payload``, with the ``sms_msg_id`` of
each click) had no store, so an erasure left it untouched, and nothing noticed.

The rule: a concrete field of a model of the ``link_tracking`` app *can hold* an
``sms_msg_id``, an IP hash, a click id or an e-mail address when

- it is free-form: a ``JSONField`` or a ``BinaryField`` (a payload, an uploaded file);
- it is an e-mail or IP address field, a ``URLField``, or a text field named ``url`` or
  ``*_url`` (a query string carries ``sms_msg_id`` and ``click_id``);
- or its name has a word (split on ``_``) that names an identifier (:data:`IDENTIFIER_WORDS`),
  unless its values cannot be one: a date, time, boolean or duration, or a field with
  ``choices`` (one of a fixed set).

Each such field must be in the privacy service's registry: covered by a store of
``LINK_TRACKING['PRIVACY_STORES']`` (:func:`privacy.covered_fields`, declared on the store), or
declared as holding no subject's data, with the reason (:data:`privacy.NOT_SUBJECT_DATA`).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import models

from link_tracking_publisher.services import privacy

#: Words of a field's name that say it holds a visitor's identifier or a hash of one.
IDENTIFIER_WORDS = frozenset(
    {"sms", "msg", "ip", "click", "session", "email", "mail", "visitor", "subject", "phone"}
)

#: Field types whose values cannot be an identifier, whatever the field's name.
VALUES_THAT_ARE_NOT_IDENTIFIERS = (
    models.DateField,  # DateTimeField too
    models.TimeField,
    models.DurationField,
    models.BooleanField,
)


def can_hold_identifier(field: models.Field[Any, Any]) -> bool:
    if isinstance(field, (models.JSONField, models.BinaryField)):
        return True
    if isinstance(field, (models.EmailField, models.GenericIPAddressField, models.URLField)):
        return True
    if field.is_relation:
        return False
    if isinstance(field, (models.CharField, models.TextField)) and (
        field.name == "url" or field.name.endswith("_url")
    ):
        return True
    if field.choices or isinstance(field, VALUES_THAT_ARE_NOT_IDENTIFIERS):
        return False
    return bool(IDENTIFIER_WORDS & set(field.name.split("_")))


def fields_that_can_hold_identifiers() -> set[str]:
    return {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_app_config("link_tracking").get_models()
        for field in model._meta.concrete_fields
        if can_hold_identifier(field)
    }


def test_every_field_that_can_hold_an_identifier_has_a_store() -> None:
    covered = privacy.covered_fields()
    missing = fields_that_can_hold_identifiers() - covered.keys() - privacy.NOT_SUBJECT_DATA.keys()
    assert not missing, (
        f"no privacy store covers {sorted(missing)}: add the field to a store's `fields` (and "
        "make the store find and erase it) or, if it holds no subject's data, to "
        "NOT_SUBJECT_DATA with the reason"
    )


def test_the_registry_names_real_fields_once() -> None:
    every = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_app_config("link_tracking").get_models()
        for field in model._meta.concrete_fields
    }
    covered = privacy.covered_fields()
    assert set(covered) <= every, sorted(set(covered) - every)
    assert set(privacy.NOT_SUBJECT_DATA) <= every, sorted(set(privacy.NOT_SUBJECT_DATA) - every)
    assert not set(covered) & set(privacy.NOT_SUBJECT_DATA)
    assert covered["link_tracking.ClickWebhookDelivery.payload"] == "webhook_deliveries"
    assert covered["link_tracking.MessageClick.sms_msg_id"] == "click_statistics"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (models.CharField(name="sms_msg_id", max_length=8), True),
        (models.CharField(name="recipient_email", max_length=8), True),
        (models.CharField(name="ip_hash", max_length=8), True),
        (models.CharField(name="click_session_id", max_length=8), True),
        (models.EmailField(name="contact"), True),
        (models.JSONField(name="meta"), True),
        (models.CharField(name="description", max_length=8), False),  # "ip" is not a word here
        (models.CharField(name="status", max_length=8), False),
        (models.DateTimeField(name="last_click_at"), False),
        (models.CharField(name="subject_type", max_length=8, choices=[("a", "A")]), False),
        (models.BigIntegerField(name="visitor"), True),
    ],
)
def test_the_rule(field: models.Field[Any, Any], expected: bool) -> None:
    assert can_hold_identifier(field) is expected


def test_a_new_identifier_field_without_a_store_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the first test does when someone adds, say, ``Link.sms_msg_id``."""
    from link_tracking_publisher.models import Link

    field = models.CharField(name="sms_msg_id", max_length=128)
    field.model = Link
    monkeypatch.setattr(
        Link._meta, "concrete_fields", (*Link._meta.concrete_fields, field), raising=False
    )
    with pytest.raises(AssertionError, match=r"link_tracking\.Link\.sms_msg_id"):
        test_every_field_that_can_hold_an_identifier_has_a_store()


def test_a_store_left_out_of_the_settings_leaves_its_fields_uncovered(settings: Any) -> None:
    """As before the outbox had a store: the payloads are reported as uncovered."""
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "PRIVACY_STORES": [
            path
            for path in privacy.app_settings.PRIVACY_STORES
            if not path.endswith(".WebhookDeliveryStore")
        ],
    }
    with pytest.raises(AssertionError, match=r"ClickWebhookDelivery\.payload"):
        test_every_field_that_can_hold_an_identifier_has_a_store()
