from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from link_tracking_publisher.errors import PublishError
from link_tracking_publisher.models import GlobalUTMPolicy, Link, LinkCampaign
from link_tracking_publisher.services.utm_resolver import UTMResolver

from .factories import LinkCampaignFactory, LinkFactory

pytestmark = pytest.mark.django_db


def _link(campaign: LinkCampaign | None, **kwargs: Any) -> Link:
    account = campaign.account if campaign else None
    extra = {"account": account} if account else {}
    return LinkFactory(campaign=campaign, **extra, **kwargs)


def test_precedence_global_then_campaign_then_link(account: Any) -> None:
    GlobalUTMPolicy.objects.create(
        default_utm_params={"utm_source": "global", "utm_medium": "global", "utm_term": "global"}
    )
    campaign = LinkCampaignFactory(
        account=account, utm_template={"utm_medium": "campaign", "utm_term": "campaign"}
    )
    link = _link(campaign, utm_overrides={"utm_term": "link"})
    assert UTMResolver().resolve(link) == {
        "utm_source": "global",
        "utm_medium": "campaign",
        "utm_term": "link",
    }


def test_null_override_removes_an_inherited_param(account: Any) -> None:
    GlobalUTMPolicy.objects.create(default_utm_params={"utm_source": "g", "utm_medium": "g"})
    link = _link(LinkCampaignFactory(account=account), utm_overrides={"utm_medium": None})
    assert UTMResolver().resolve(link) == {"utm_source": "g"}


def test_every_template_variable_is_filled(account: Any) -> None:
    campaign = LinkCampaignFactory(
        account=account,
        campaign_id="C1",
        utm_template={
            name: "${" + name + "}"
            for name in (
                "slug",
                "campaign_id",
                "keyword",
                "channel",
                "short_code",
                "domain",
                "slug_type",
                "created_date",
            )
        },
    )
    link = _link(campaign, slug="Law-Help", keyword="HELP", channel="email")
    resolved = UTMResolver().resolve(link)
    assert resolved == {
        "slug": "Law-Help",
        "campaign_id": "C1",
        "keyword": "HELP",
        "channel": "email",
        "short_code": "LAW-HELP",
        "domain": link.domain.domain_name,
        "slug_type": "vanity",
        "created_date": link.created_at.date().isoformat(),
    }


def test_params_that_render_empty_are_left_out(account: Any) -> None:
    campaign = LinkCampaignFactory(
        account=account, utm_template={"utm_content": "${keyword}", "utm_x": "k-${keyword}"}
    )
    assert UTMResolver().resolve(_link(campaign, keyword="")) == {"utm_x": "k-"}


def test_literal_dollar_is_written_as_double_dollar(account: Any) -> None:
    campaign = LinkCampaignFactory(account=account, utm_template={"utm_term": "$$5 off"})
    assert UTMResolver().resolve(_link(campaign)) == {"utm_term": "$5 off"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"utm_campaign": "${campaign_name}"}, "unknown template variable campaign_name"),
        ({"utm_campaign": "${slug"}, "invalid placeholder"),
        ({"utm_campaign": 5}, "values are strings"),
        ({"bad name": "x"}, "not a valid query parameter name"),
        ({"click_id": "x"}, "set by the runtime"),
    ],
)
def test_bad_templates_are_refused_when_saved(
    account: Any, template: dict[str, Any], message: str
) -> None:
    campaign = LinkCampaign(account=account, name="c", utm_template=template)
    with pytest.raises(ValidationError) as exc:
        campaign.full_clean()
    assert "utm_template" in exc.value.message_dict
    assert message in " ".join(exc.value.message_dict["utm_template"])


def test_unknown_variable_in_link_overrides_is_a_field_error(account: Any, domain: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        LinkFactory(account=account, domain=domain, utm_overrides={"utm_term": "${nope}"})
    assert "utm_overrides" in exc.value.message_dict


def test_data_written_around_validation_fails_loudly_at_publish(account: Any) -> None:
    campaign = LinkCampaignFactory(account=account)
    link = _link(campaign)
    LinkCampaign.objects.filter(pk=campaign.pk).update(utm_template={"utm_x": "${nope}"})
    link.refresh_from_db()
    with pytest.raises(PublishError, match="nope"):
        UTMResolver().resolve(link)
