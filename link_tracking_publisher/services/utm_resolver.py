"""UTM resolution: global policy, then the campaign's ``utm_template``, then the link's
``utm_overrides``; each later layer replaces a param of an earlier one, and ``null`` in a
link's overrides removes it. Templates use ``${variable}``; the result is published as the
record's ``resolved_query_params`` (resolved at publish time, not at redirect time)."""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import TYPE_CHECKING, Any

from ..errors import PublishError
from ..models import GlobalUTMPolicy
from ..validators import UTM_TEMPLATE_VARIABLES

if TYPE_CHECKING:
    from ..models import Link

__all__ = ["UTMResolver"]


class UTMResolver:
    """Resolves the query params a link's record carries.

    Pass ``policy`` to resolve many links against one read of the global policy.
    """

    variables_available = UTM_TEMPLATE_VARIABLES

    def __init__(self, policy: GlobalUTMPolicy | None = None) -> None:
        self._policy = policy

    @property
    def policy(self) -> GlobalUTMPolicy:
        if self._policy is None:
            self._policy = GlobalUTMPolicy.load()
        return self._policy

    @staticmethod
    def variables(link: Link) -> dict[str, str]:
        created = link.created_at
        return {
            "slug": link.slug,
            "campaign_id": link.campaign_identifier or "",
            "keyword": link.keyword or "",
            "channel": link.channel or "",
            "short_code": link.slug_canonical,
            "domain": link.domain.domain_name,
            "slug_type": link.slug_type,
            "created_date": created.date().isoformat() if created else "",
        }

    def layers(self, link: Link) -> list[tuple[str, Mapping[str, Any]]]:
        return [
            ("global policy", self.policy.default_utm_params or {}),
            (
                "campaign utm_template",
                (link.campaign.utm_template if link.campaign else None) or {},
            ),
            ("link utm_overrides", link.utm_overrides or {}),
        ]

    def resolve(self, link: Link) -> dict[str, str]:
        """The link's resolved params, in layer order; params that render empty are left out
        (a blank ``${keyword}`` adds no ``utm_content=``)."""
        variables = self.variables(link)
        resolved: dict[str, str] = {}
        for layer, params in self.layers(link):
            for name, template in params.items():
                if template is None:
                    resolved.pop(name, None)
                    continue
                try:
                    resolved[name] = Template(str(template)).substitute(variables)
                except (KeyError, ValueError) as exc:
                    # Validation refuses these when templates are saved; data written around
                    # it must fail loudly here rather than publish a silent blank.
                    raise PublishError(
                        f"{layer} param {name!r}: cannot fill template {template!r} ({exc})"
                    ) from None
        return {name: value for name, value in resolved.items() if value != ""}
