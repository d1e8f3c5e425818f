"""New click event objects found without listing the bucket: S3 sends an event notification
for each object Firehose writes to an SQS queue (``terraform/click_ingest.tf``); the beat task
``link_tracking.ingest_click_events`` reads the queue, ingests each object (checkpointed per
object, deduplicated per event) and deletes a message only once its objects are counted. A
message that keeps failing goes to the dead-letter queue after the queue's maxReceiveCount.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from ..aws import service_client
from ..conf import app_settings
from .ingest import IngestReport, ingest_objects
from .sources import SourceObject, local_objects, s3_object

logger = logging.getLogger(__name__)

__all__ = ["ingest_new_click_events", "objects_of_message"]

#: Messages read per run at most (10 per ReceiveMessage call); the next beat run goes on.
MAX_MESSAGES_PER_RUN = 200


def objects_of_message(body: str, s3: Any, prefix: str) -> list[SourceObject]:
    """The created objects an S3 event notification names (none for ``s3:TestEvent``)."""
    event = json.loads(body)
    objects = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        if key.startswith(prefix):
            objects.append(s3_object(s3, bucket, key))
    return objects


def ingest_from_queue(queue_url: str, report: IngestReport) -> IngestReport:
    sqs, s3 = service_client("sqs"), service_client("s3")
    prefix = app_settings.CLICK_EVENTS_S3_PREFIX
    seen = 0
    while seen < MAX_MESSAGES_PER_RUN:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen += 1
            try:
                objects = objects_of_message(message["Body"], s3, prefix)
            except (ValueError, KeyError, TypeError) as exc:
                # Not an S3 notification: left on the queue, so it ends in the DLQ.
                logger.warning(
                    "unreadable click-object notification (%s): %.300s", exc, message["Body"]
                )
                continue
            ingest_objects(objects, report=report)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return report


def ingest_new_click_events() -> IngestReport | None:
    """What the beat task runs: the queue in production, the local source in development."""
    report = IngestReport()
    if app_settings.CLICK_EVENTS_QUEUE_URL:
        return ingest_from_queue(app_settings.CLICK_EVENTS_QUEUE_URL, report)
    source = app_settings.CLICK_EVENTS_SOURCE
    if source and Path(source).exists():
        return ingest_objects(local_objects(Path(source)), report=report)
    return None
