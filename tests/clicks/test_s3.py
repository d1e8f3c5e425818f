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


def _notifying_queue(region: str, bucket: str) -> tuple[Any, Any, str]:
    """A bucket in ``region`` that notifies a queue there of each object created, as the
    region module wires Firehose's bucket to the click-ingest queue."""
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    sqs = boto3.client("sqs", region_name=region)
    queue_url = sqs.create_queue(QueueName="click-objects")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return s3, sqs, queue_url


def test_both_regions_queues_are_read_and_a_lost_region_is_caught_up_when_it_returns(
    aws: None, tmp_path: Path, link: Any, freeze_now: None, settings: Any
) -> None:
    from botocore.exceptions import EndpointConnectionError

    from link_tracking_publisher.aws import service_client

    s3_a, _, queue_a = _notifying_queue("us-east-1", "click-events-a")
    s3_b, sqs_b, queue_b = _notifying_queue("eu-west-1", "click-events-b")
    settings.LINK_TRACKING = {
        **settings.LINK_TRACKING,
        "CLICK_EVENTS_QUEUE_URL": queue_a,
        "SECONDARY_REGION": "eu-west-1",
        "SECONDARY_CLICK_EVENTS_QUEUE_URL": queue_b,
    }
    # Each region's runtime delivers to its own region; one event reached both (a replayed
    # spill), and Firehose names objects alike in both buckets.
    shared = click(link)
    s3_a.upload_file(
        str(write_parquet(tmp_path / "a.parquet", [click(link), click(link), shared])),
        "click-events-a",
        "click-events/year=2026/obj",
    )
    s3_b.upload_file(
        str(write_parquet(tmp_path / "b.parquet", [click(link), shared])),
        "click-events-b",
        "click-events/year=2026/obj",
    )
    report = ingest_new_click_events()
    assert report is not None
    assert (report.counted, report.duplicates, report.unreachable) == (4, 1, [])
    assert human_total(link) == 4

    # Region B is lost: its queue does not answer. Region A's clicks are still counted, the
    # report names the lost region, and B's notifications wait on its queue.
    s3_a.upload_file(
        str(write_parquet(tmp_path / "a2.parquet", [click(link)])),
        "click-events-a",
        "click-events/year=2026/obj2",
    )
    s3_b.upload_file(
        str(write_parquet(tmp_path / "b2.parquet", [click(link), click(link)])),
        "click-events-b",
        "click-events/year=2026/obj2",
    )

    def unreachable(**kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com/")

    events = service_client("sqs", secondary=True).meta.events
    events.register("before-send.sqs", unreachable)
    try:
        lost = ingest_new_click_events()
        assert lost is not None
        assert (lost.counted, lost.unreachable) == (1, ["eu-west-1"])
        assert lost.as_dict()["unreachable"] == ["eu-west-1"]
        assert human_total(link) == 5
        waiting = sqs_b.get_queue_attributes(
            QueueUrl=queue_b, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        assert waiting == "1"
        # With both queues unreachable, nothing was done: the run fails, it does not say done.
        service_client("sqs").meta.events.register("before-send.sqs", unreachable)
        try:
            with pytest.raises(EndpointConnectionError):
                ingest_new_click_events()
        finally:
            service_client("sqs").meta.events.unregister("before-send.sqs", unreachable)
    finally:
        events.unregister("before-send.sqs", unreachable)

    # B is back: its backlog is ingested by the next run, each event once.
    back = ingest_new_click_events()
    assert back is not None and (back.counted, back.unreachable) == (2, [])
    assert human_total(link) == 7
