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

from ..aws import is_unreachable, service_client
from ..conf import app_settings
from .ingest import IngestReport, ingest_objects
from .sources import SourceObject, local_objects, s3_object

logger = logging.getLogger(__name__)

__all__ = ["click_queues", "ingest_from_queue", "ingest_new_click_events", "objects_of_message"]

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


def ingest_from_queue(
    queue_url: str, report: IngestReport, *, secondary: bool = False
) -> IngestReport:
    """Ingest the objects the queue's notifications name, deleting each message once its
    objects are counted; the clients are in ``SECONDARY_REGION`` for the secondary's queue."""
    sqs = service_client("sqs", secondary=secondary)
    s3 = service_client("s3", secondary=secondary)
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


def click_queues() -> list[tuple[str, str, bool]]:
    """(region, queue URL, whether it is the secondary's) of each queue to read: the
    primary's ``CLICK_EVENTS_QUEUE_URL`` and, in two regions, the secondary's."""
    queues = []
    if app_settings.CLICK_EVENTS_QUEUE_URL:
        queues.append((app_settings.AWS_REGION, app_settings.CLICK_EVENTS_QUEUE_URL, False))
    if app_settings.SECONDARY_CLICK_EVENTS_QUEUE_URL:
        queues.append(
            (app_settings.SECONDARY_REGION, app_settings.SECONDARY_CLICK_EVENTS_QUEUE_URL, True)
        )
    return queues


def ingest_new_click_events() -> IngestReport | None:
    """What the beat task runs: each region's queue in production, the local source in
    development.

    A region whose queue (or bucket) cannot be reached is named in ``report.unreachable`` and
    the other region is still read: its messages stay on its queue (SQS keeps them 14 days)
    and are ingested by the first run after it returns, each event once (events are
    deduplicated by ``event_id`` and objects checkpointed by bucket and key). When no queue
    can be reached the error is raised, so the run fails rather than report nothing done."""
    report = IngestReport()
    queues = click_queues()
    if queues:
        failure: BaseException | None = None
        for region, queue_url, secondary in queues:
            try:
                ingest_from_queue(queue_url, report, secondary=secondary)
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                logger.warning("click-object queue in %s unreachable: %s", region, exc)
                report.unreachable.append(region)
                failure = exc
        if failure is not None and len(report.unreachable) == len(queues):
            raise failure
        return report
    source = app_settings.CLICK_EVENTS_SOURCE
    if source and Path(source).exists():
        return ingest_objects(local_objects(Path(source)), report=report)
    return None
