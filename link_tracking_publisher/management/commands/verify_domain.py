"""Verify a domain's ownership now: its DNS TXT record, or by hand (staff vouch for it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...models import Domain
from ...services.domains import (
    DnsLookupError,
    check_domain_ownership,
    get_resolver,
    verify_domain_by_hand,
)

LOCAL_RECIPE = "manage.py verify_domain {name} --by-hand --by USERNAME"


class Command(BaseCommand):
    help = (
        "Verify a domain's ownership now: look for its DNS TXT record (as the verify_domain "
        "task and the admin's check do), or, with --by-hand --by USERNAME, vouch for its owner "
        "as that staff user (recorded in the admin's log; the local recipe, without DNS). "
        "Once it is verified, the links waiting for it are published."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The domain name, e.g. go.example.com.")
        parser.add_argument(
            "--by-hand",
            action="store_true",
            help="Mark it verified without looking at the DNS (needs --by).",
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="The staff user who verifies it by hand (recorded as having done it).",
        )

    def handle(self, *args: Any, name: str, by_hand: bool, by: str | None, **options: Any) -> None:
        if by is not None and not by_hand:
            raise CommandError("--by names who verifies by hand: add --by-hand.")
        domain = _domain(name)
        user = _staff_user(by, domain.domain_name) if by_hand else None
        if domain.is_verified:
            self.stdout.write(
                f"{domain.domain_name} is already verified "
                f"({domain.get_verification_method_display()}, {domain.verified_at:%Y-%m-%d %H:%M})."
            )
        elif user is not None:
            verify_domain_by_hand(domain, user=user)
            self.stdout.write(
                f"{domain.domain_name} verified by hand by {user.get_username()} (recorded in "
                "the admin's log); the links waiting for it are sent to the publisher."
            )
        else:
            self._check_dns(domain)

    def _check_dns(self, domain: Domain) -> None:
        name, record = domain.domain_name, domain.verification_record_name
        expected = domain.verification_record_value
        expires = domain.claim_expires_at
        if expires is not None and expires <= timezone.now():
            raise CommandError(
                f"The claim on {name} lapsed at {expires:%Y-%m-%d %H:%M} (unverified for longer "
                "than LINK_TRACKING['DOMAIN_CLAIM_TTL_SECONDS']): it is released, with its links, "
                "by expire_domain_claims or the next claim on the name. Claim it again."
            )
        found: list[str] = []
        resolve = get_resolver()

        def recording(lookup: str) -> list[str]:
            answer = resolve(lookup)
            found.extend(answer)
            return answer

        try:
            verified = check_domain_ownership(domain.pk, resolver=recording)
        except DnsLookupError as exc:
            raise CommandError(
                f"Could not ask the DNS for {record} ({exc}). Try again; locally, without DNS: "
                f"{LOCAL_RECIPE.format(name=name)}."
            ) from None
        if not verified:
            seen = ", ".join(repr(value) for value in found) if found else "no TXT record"
            raise CommandError(
                f"{name} is not verified: expected a TXT record {record} with the value "
                f"{expected!r}; found {seen}. Add the record at the domain's DNS provider and "
                f"run this again; locally, without DNS: {LOCAL_RECIPE.format(name=name)}."
            )
        self.stdout.write(
            f"{name} verified: the TXT record {record} has {expected!r}. The links waiting for "
            "it are sent to the publisher."
        )


def _domain(name: str) -> Domain:
    wanted = name.strip().lower().rstrip(".")
    domain = Domain.objects.filter(domain_name=wanted).first()
    if domain is not None:
        return domain
    known = list(Domain.objects.order_by("domain_name").values_list("domain_name", flat=True)[:20])
    hint = f" Known domains: {', '.join(known)}." if known else " There is no domain yet."
    raise CommandError(
        f"No domain named {wanted!r}.{hint} Claim it first (the admin, or POST "
        "/api/link_tracking/domains/)."
    )


def _staff_user(username: str | None, name: str) -> Any:
    if not username:
        raise CommandError(
            "--by-hand needs --by USERNAME: the staff user who vouches for the owner of "
            f"{name} (recorded in the admin's log), e.g. {LOCAL_RECIPE.format(name=name)}."
        )
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(
            f"No user {username!r}: name an existing staff user, or create one with "
            "manage.py createsuperuser."
        )
    if not (user.is_active and user.is_staff):
        raise CommandError(
            f"{username!r} is not an active staff user: only staff may verify a domain by hand "
            "(set is_staff in the admin, or name another user)."
        )
    return user
