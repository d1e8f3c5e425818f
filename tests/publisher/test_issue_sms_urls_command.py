"""``manage.py issue_sms_urls``: a send's URLs for operators, as CSV; bad input is a
CommandError that says what to do."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from django.core.management import CommandError, call_command

from link_tracking_publisher.message_links import SMS_URLS_MAX
from link_tracking_publisher.models import MessageToken
from tests.publisher.factories import DomainFactory, LinkFactory

pytestmark = pytest.mark.django_db

NAME = "link-signatures/messages/cmd"


@pytest.fixture
def link(aws: None) -> Any:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=NAME, SecretString=json.dumps({"current": {"kid": "m1", "secret": "c" * 32}})
    )
    return LinkFactory(domain=DomainFactory(domain_name="go.example.com", message_keyring=NAME))


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_file_of_ids_gives_one_url_each(tmp_path: Path, link: Any) -> None:
    source = tmp_path / "ids.txt"
    source.write_text("m-1\n\nm-2\nm-1\n", encoding="utf-8")
    out = io.StringIO()
    call_command("issue_sms_urls", str(link.pk), "--input", str(source), stdout=out)
    rows = _rows(out.getvalue())
    assert rows[0] == ["message_id", "url"]
    assert [r[0] for r in rows[1:]] == ["m-1", "m-2", "m-1"]
    assert rows[1][1] == rows[3][1] != rows[2][1]  # the same id, the same URL
    assert all(len(r[1]) <= len(link.get_full_url()) + 10 for r in rows[1:])
    assert MessageToken.objects.filter(link=link).count() == 2
    target = tmp_path / "urls.csv"
    call_command(
        "issue_sms_urls",
        str(link.pk),
        "--input",
        str(source),
        "--output",
        str(target),
        stdout=io.StringIO(),
    )
    assert _rows(target.read_text(encoding="utf-8")) == rows


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ("", "No message ids"),
        ("x" * 129 + "\n", "at most 128"),
        ("ok\nbad\x01id\n", "printable"),
    ],
)
def test_bad_ids_are_a_command_error(tmp_path: Path, link: Any, lines: str, fragment: str) -> None:
    source = tmp_path / "ids.txt"
    source.write_text(lines, encoding="utf-8")
    with pytest.raises(CommandError, match=fragment):
        call_command("issue_sms_urls", str(link.pk), "--input", str(source))
    assert not MessageToken.objects.exists()


def test_more_than_the_limit_is_refused_before_any_is_issued(tmp_path: Path, link: Any) -> None:
    source = tmp_path / "ids.txt"
    with mock.patch("link_tracking_publisher.management.commands.issue_sms_urls.SMS_URLS_MAX", 3):
        source.write_text("a\nb\nc\nd\n", encoding="utf-8")
        with pytest.raises(CommandError, match="More than 3"):
            call_command("issue_sms_urls", str(link.pk), "--input", str(source))
    assert SMS_URLS_MAX == 100_000
    assert not MessageToken.objects.exists()


def test_an_unknown_link_a_missing_file_and_a_broken_keyring(tmp_path: Path, link: Any) -> None:
    with pytest.raises(CommandError, match="No link has the id"):
        call_command("issue_sms_urls", "not-a-uuid")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("issue_sms_urls", str(link.pk), "--input", str(tmp_path / "none.txt"))
    link.domain.message_keyring = "link-signatures/messages/missing"
    link.domain.save()
    source = tmp_path / "ids.txt"
    source.write_text("m\n", encoding="utf-8")
    with pytest.raises(CommandError, match="not a usable keyring"):
        call_command("issue_sms_urls", str(link.pk), "--input", str(source))
