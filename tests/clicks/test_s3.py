"""Ingestion from S3: Parquet and NDJSON objects, listed (backfill) or notified on SQS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.management import call_command

from link_tracking_publisher.clicks.queue import ingest_new_click_events
from link_tracking_publisher.models import ClickIngestCheckpoint, LinkHourClicks, MessageClick
from link_tracking_runtime.events import encode_event

from .conftest import T0, click
from .parquet import write_parquet

pytestmark = pytest.mark.django_db
BUCKET = "click-events-bucket"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def freeze_now(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(time, "time", lambda: T0 + 3600)


def human_total(link: Any) -> int:
    rows = LinkHourClicks.objects.filter(link=link)
    return sum(r.human_clicks for r in rows)


def test_parquet_and_ndjson_objects_under_a_prefix(
    s3: Any, tmp_path: Path, link: Any, freeze_now: None, capsys: pytest.CaptureFixture[str]
) -> None:
    parquet = write_parquet(
        tmp_path / "p.parquet",
        [click(link, sms_msg_id="m1"), click(link, sms_msg_id="m1", is_bot=True)],
    )
    # Firehose's object names have no extension: the format is read from the content.
    s3.upload_file(str(parquet), BUCKET, "click-events/year=2026/hour=10/stream-1-2026-abc")
    s3.put_object(Bucket=BUCKET, Key="click-events/x.ndjson", Body=encode_event(click(link)))
    s3.put_object(Bucket=BUCKET, Key="click-events/cut", Body=b"PAR1 truncated")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/y.ndjson", Body=encode_event(click(link)))
    call_command("ingest_click_events", "--source", f"s3://{BUCKET}/click-events/", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["counted"] == 3 and report["skipped"] == {"truncated_object": 1}
    assert human_total(link) == 2
    message = MessageClick.objects.get(sms_msg_id="m1")
    assert (message.human_clicks, message.bot_clicks) == (1, 1)
    assert ClickIngestCheckpoint.objects.filter(completed=True).count() == 3
    call_command("ingest_click_events", "--source", f"s3://{BUCKET}/click-events/", "--json")
    assert json.loads(capsys.readouterr().out)["counted"] == 0


def test_objects_notified_on_sqs_are_ingested_and_the_message_deleted(
    s3: Any, tmp_path: Path, link: Any, freeze_now: None, settings: Any
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="click-objects")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": "click-events/"}]}
                    },
                }
            ]
        },
    )
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_EVENTS_QUEUE_URL": queue_url}
    parquet = write_parquet(tmp_path / "p.parquet", [click(link), click(link)])
    s3.upload_file(str(parquet), BUCKET, "click-events/year=2026/obj one")
    report = ingest_new_click_events()
    assert report is not None and report.counted == 2
    assert human_total(link) == 2
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    # The same notification delivered again (at-least-once) counts nothing.
    body = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": BUCKET},
                        "object": {"key": "click-events/year%3D2026/obj+one"},
                    },
                }
            ]
        }
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    ClickIngestCheckpoint.objects.all().delete()
    again = ingest_new_click_events()
    assert again is not None and (again.counted, again.duplicates) == (0, 2)


def test_local_source_setting(tmp_path: Path, link: Any, settings: Any, freeze_now: None) -> None:
    path = tmp_path / "click-events.ndjson"
    path.write_bytes(encode_event(click(link)))
    settings.LINK_TRACKING = {**settings.LINK_TRACKING, "CLICK_EVENTS_SOURCE": str(path)}
    report = ingest_new_click_events()
    assert report is not None and report.counted == 1
