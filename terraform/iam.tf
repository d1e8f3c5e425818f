locals {
  signing_secrets_arn_pattern = "arn:${local.partition}:secretsmanager:${var.aws_region}:${local.account_id}:secret:${var.signing_secret_prefix}*"
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- Execution role: what ECS needs to start the task (image, logs, injected secrets) ---------

resource "aws_iam_role" "ecs_execution" {
  name               = "${local.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "ecs_execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }

  statement {
    sid = "PullRuntimeImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.runtime.arn]
  }

  statement {
    sid       = "WriteRuntimeLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.runtime.arn}:*"]
  }

  statement {
    sid     = "InjectRuntimeSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.origin_verify.arn,
      aws_secretsmanager_secret.ip_hash_key.arn,
    ]
  }

  statement {
    sid       = "DecryptRuntimeSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.aws_region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "ecs_execution" {
  name   = "start-runtime-task"
  role   = aws_iam_role.ecs_execution.id
  policy = data.aws_iam_policy_document.ecs_execution.json
}

# --- Task role: what the runtime itself does ----------------------------------------------------
# Reads records (GetItem only: no Query, no Scan), counts clicks of links with max_clicks (an
# UpdateItem that may touch only the counter attribute), sends click events, reads signing
# keyrings by id under the signing prefix. Metrics are EMF log lines: no PutMetricData.

resource "aws_iam_role" "ecs_task" {
  name               = "${local.name}-ecs-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "ecs_task" {
  statement {
    sid       = "ReadRuntimeRecords"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.link_runtime.arn]
  }

  # The max_clicks counter item (PK = DOMAIN#..., SK = CLICKS#...): only its counter attribute.
  statement {
    sid       = "CountClicks"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.link_runtime.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = ["PK", "SK", "click_count"]
    }

    condition {
      test     = "StringEqualsIfExists"
      variable = "dynamodb:ReturnValues"
      values   = ["NONE", "UPDATED_OLD", "UPDATED_NEW"]
    }
  }

  statement {
    sid       = "SendClickEvents"
    actions   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
    resources = [aws_kinesis_firehose_delivery_stream.click_events.arn]
  }

  statement {
    sid       = "ReadSigningKeyrings"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.signing_secrets_arn_pattern]
  }

  statement {
    sid       = "DecryptThroughDynamoDbAndSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "dynamodb.${var.aws_region}.amazonaws.com",
        "secretsmanager.${var.aws_region}.amazonaws.com",
      ]
    }
  }
}

resource "aws_iam_role_policy" "ecs_task" {
  name   = "runtime"
  role   = aws_iam_role.ecs_task.id
  policy = data.aws_iam_policy_document.ecs_task.json
}

# --- Firehose: write Parquet to the bucket, read the Glue schema, log failures -------------------

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${local.name}-firehose"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose" {
  statement {
    sid = "WriteClickEvents"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetBucketLocation",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
      "s3:PutObject",
    ]
    resources = [
      aws_s3_bucket.click_events.arn,
      "${aws_s3_bucket.click_events.arn}/*",
    ]
  }

  statement {
    sid       = "EncryptClickEvents"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["${aws_s3_bucket.click_events.arn}/*", aws_s3_bucket.click_events.arn]
    }
  }

  statement {
    sid = "ReadClickEventSchema"
    actions = [
      "glue:GetTable",
      "glue:GetTableVersion",
      "glue:GetTableVersions",
    ]
    resources = [
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog",
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:database/${aws_glue_catalog_database.analytics.name}",
      "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:table/${aws_glue_catalog_database.analytics.name}/${aws_glue_catalog_table.click_events.name}",
    ]
  }

  statement {
    sid       = "LogDeliveryErrors"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "deliver-click-events"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

# --- The control plane's permissions, to attach to whatever role runs Django and Celery ---------
# Publishes records (PutItem, conditional on runtime_version), unpublishes (UpdateItem), finds a
# campaign's records (Query on campaign-index), signs URLs with the keyrings, erases a data
# subject's click events (privacy requests), and ingests click events (the click-objects queue
# and the objects it names).

data "aws_iam_policy_document" "publisher" {
  statement {
    sid = "PublishRuntimeRecords"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.link_runtime.arn,
      "${aws_dynamodb_table.link_runtime.arn}/index/campaign-index",
    ]
  }

  statement {
    sid       = "ReadSigningKeyrings"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.signing_secrets_arn_pattern]
  }

  # Privacy erasure (services/privacy.py, S3ClickEventStore): rewrite click-event objects without
  # a subject's events and delete their earlier versions.
  statement {
    sid       = "EraseClickEventsList"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [aws_s3_bucket.click_events.arn]
  }

  statement {
    sid = "EraseClickEventsObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
    ]
    resources = ["${aws_s3_bucket.click_events.arn}/*"]
  }

  statement {
    sid       = "EraseClickEventsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["${aws_s3_bucket.click_events.arn}/*", aws_s3_bucket.click_events.arn]
    }
  }

  statement {
    sid = "ConsumeClickObjectNotifications"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.click_objects.arn]
  }

  statement {
    sid       = "ReadClickEventObjects"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.click_events.arn}/click-events/*"]
  }

  statement {
    # ingest_click_events --source s3://bucket/click-events/ (a backfill) lists the prefix.
    sid       = "ListClickEventObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.click_events.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["click-events/*"]
    }
  }

  statement {
    sid       = "UseTableSecretsQueueAndBucketKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "dynamodb.${var.aws_region}.amazonaws.com",
        "secretsmanager.${var.aws_region}.amazonaws.com",
        "sqs.${var.aws_region}.amazonaws.com",
        "s3.${var.aws_region}.amazonaws.com",
      ]
    }
  }
}

resource "aws_iam_policy" "publisher" {
  name        = "${local.name}-publisher"
  description = "What the link-tracking control plane needs to publish to ${aws_dynamodb_table.link_runtime.name}"
  policy      = data.aws_iam_policy_document.publisher.json
}
