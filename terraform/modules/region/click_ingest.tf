# Click statistics: every object Firehose writes under click-events/ is announced by an S3 event
# notification on an SQS queue; the control plane's Celery beat task
# (link_tracking.ingest_click_events, LINK_TRACKING["CLICK_EVENTS_QUEUE_URL"]) reads the queue,
# ingests each object and deletes the message. New objects are found without listing the bucket.
# A message that fails maxReceiveCount times lands in the dead-letter queue (alarmed).

resource "aws_sqs_queue" "click_objects_dlq" {
  name                              = "${local.name}-click-objects-dlq"
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600 # 14 days, the most SQS keeps
}

resource "aws_sqs_queue" "click_objects" {
  name                              = "${local.name}-click-objects"
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  # Longer than one ingestion of the largest object Firehose writes (128 MiB of Parquet), so a
  # message is not handed to a second worker while the first still counts it.
  visibility_timeout_seconds = var.click_ingest_visibility_timeout_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.click_objects_dlq.arn
    maxReceiveCount     = var.click_ingest_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "click_objects_dlq" {
  queue_url = aws_sqs_queue.click_objects_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.click_objects.arn]
  })
}

data "aws_iam_policy_document" "click_objects_queue" {
  statement {
    sid       = "ClickEventsBucketSendsObjectCreated"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.click_objects.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.click_events.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.click_objects.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "click_objects" {
  queue_url = aws_sqs_queue.click_objects.id
  policy    = data.aws_iam_policy_document.click_objects_queue.json
}

resource "aws_s3_bucket_notification" "click_events" {
  bucket = aws_s3_bucket.click_events.id

  queue {
    id            = "click-objects-to-ingest"
    queue_arn     = aws_sqs_queue.click_objects.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "click-events/"
  }

  # S3 checks that it may send to the queue when the notification is saved.
  depends_on = [aws_sqs_queue_policy.click_objects]
}

resource "aws_cloudwatch_metric_alarm" "click_objects_dead_letters" {
  alarm_name          = "${local.name}-click-objects-dead-letters"
  alarm_description   = "Click event objects that ingestion failed on repeatedly (their clicks are not counted yet). Runbook: ${local.runbooks}/click-ingestion.md"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.click_objects_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "click_objects_backlog" {
  alarm_name          = "${local.name}-click-objects-backlog"
  alarm_description   = "The oldest click event object waiting to be ingested is over ${var.click_ingest_max_age_seconds}s old: statistics are behind. Runbook: ${local.runbooks}/click-ingestion.md"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.click_objects.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.click_ingest_max_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}
