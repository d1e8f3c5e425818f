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

Covered is not enough: the store must also *find* the field's rows by each identifier the field
can hold (:func:`identifier_kinds`). Before, ``ClickWebhookDelivery.payload`` was covered, yet
an erasure by the click's ``ip_hash`` or click id found none of its deliveries (the payload
carries neither): the store's ``subject_types`` (:func:`privacy.covered_subject_types`) must
include each of a field's kinds, and every row that ingesting a click writes into a covered
field must be found by each of the click's identifiers its store declares.
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


#: The subject type (a privacy request's ``subject_type``) each identifier word names.
KIND_OF_WORD = {
    "sms": "sms_msg_id",
    "msg": "sms_msg_id",
    "ip": "ip_hash",
    "visitor": "ip_hash",
    "click": "click_id",
    "session": "click_id",
}
#: What a free-form field (JSON, binary, a URL) can hold: any of a click's identifiers.
CLICK_IDENTIFIERS = frozenset({"sms_msg_id", "click_id", "ip_hash"})


def identifier_kinds(field: models.Field[Any, Any]) -> frozenset[str]:
    """The click identifiers (as subject types) a field that can hold one can hold."""
    if not can_hold_identifier(field):
        return frozenset()
    words = set(field.name.split("_"))
    named = frozenset(KIND_OF_WORD[word] for word in words & KIND_OF_WORD.keys())
    if isinstance(field, (models.EmailField, models.GenericIPAddressField)):
        return named
    if isinstance(field, (models.JSONField, models.BinaryField, models.URLField)) or (
        field.name == "url" or field.name.endswith("_url")
    ):
        return CLICK_IDENTIFIERS
    return named


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


def test_every_store_finds_its_fields_by_each_ip_hash_or_click_id_they_can_hold() -> None:
    subject_types = privacy.covered_subject_types()
    unprocessed = {
        f"{model._meta.label}.{field.name}": sorted(missing)
        for model in apps.get_app_config("link_tracking").get_models()
        for field in model._meta.concrete_fields
        if f"{model._meta.label}.{field.name}" in subject_types
        and (
            missing := (identifier_kinds(field) & {"ip_hash", "click_id"})
            - subject_types[f"{model._meta.label}.{field.name}"]
        )
    }
    assert not unprocessed, (
        f"no processor finds {unprocessed} by these identifiers: make the field's store find "
        "its rows by them and add them to its `subject_types`"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("subject_type", sorted(CLICK_IDENTIFIERS))
def test_every_row_a_click_writes_is_found_by_the_clicks_identifiers(
    subject_type: str, tmp_path: Any
) -> None:
    """Ingest one click (with a webhook, so a delivery is written too), then ask every store
    covering a field of a model the click wrote rows into, for access by each of the click's
    identifiers the store declares: each must find the row."""
    from link_tracking_publisher.clicks.ingest import ingest_objects
    from link_tracking_publisher.clicks.sources import local_objects
    from link_tracking_publisher.clicks.webhooks import new_secret
    from link_tracking_publisher.models import ClickWebhook, PrivacyRequest
    from tests.clicks.conftest import T0, click, write_ndjson
    from tests.publisher.factories import LinkFactory

    link = LinkFactory()
    ClickWebhook.objects.create(
        account=link.account, url="https://hooks.example.com/c", secret=new_secret()
    )
    models_ = list(apps.get_app_config("link_tracking").get_models())
    before = {model: model.objects.count() for model in models_}
    event = click(link, sms_msg_id="m-1", ip_hash="ip-1", click_session_id="click-1")
    ingest_objects(local_objects(write_ndjson(tmp_path / "c.ndjson", [event])), now=T0 + 60)
    written = {model._meta.label for model in models_ if model.objects.count() > before[model]}
    assert "link_tracking.ClickWebhookDelivery" in written

    value = {"sms_msg_id": "m-1", "ip_hash": "ip-1", "click_id": "click-1"}[subject_type]
    request = PrivacyRequest.objects.create(
        account=link.account,
        request_type=PrivacyRequest.RequestType.ACCESS,
        subject_type=subject_type,
        subject_hash=privacy.subject_hash(subject_type, value),
    )
    subject = privacy.Subject.of(request)
    subject_types = privacy.covered_subject_types()
    stores = {store.name: store for store in privacy.StoresProcessor().stores()}
    not_found = {
        field: name
        for field, name in privacy.covered_fields().items()
        if field.rsplit(".", 1)[0] in written
        and subject_type in subject_types[field]
        and not stores[name](request, subject).found
    }
    assert not not_found, f"a request by {subject_type} finds nothing in {not_found}"


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


@pytest.mark.parametrize(
    ("field", "kinds"),
    [
        (models.CharField(name="ip_hash", max_length=8), {"ip_hash"}),
        (models.CharField(name="click_session_id", max_length=8), {"click_id"}),
        (models.CharField(name="sms_msg_id", max_length=8), {"sms_msg_id"}),
        (models.JSONField(name="meta"), CLICK_IDENTIFIERS),
        (models.URLField(name="landing"), CLICK_IDENTIFIERS),
        (models.EmailField(name="contact"), set()),
        (models.CharField(name="status", max_length=8), set()),
    ],
)
def test_the_kinds(field: models.Field[Any, Any], kinds: set[str]) -> None:
    assert identifier_kinds(field) == kinds


def test_a_store_that_does_not_find_a_fields_ip_hash_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the kinds test does when a store covers a JSON field but finds it only by
    ``sms_msg_id`` (as the click statistics store does for its own field)."""
    monkeypatch.setattr(
        privacy.WebhookDeliveryStore, "subject_types", frozenset({"sms_msg_id", "link"})
    )
    with pytest.raises(AssertionError, match=r"ClickWebhookDelivery\.payload.*click_id.*ip_hash"):
        test_every_store_finds_its_fields_by_each_ip_hash_or_click_id_they_can_hold()


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
