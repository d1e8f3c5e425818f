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
      var.origin_verify_secret_arn,
      var.ip_hash_key_secret_arn,
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
    resources = [local.table_arn]
  }

  # The max_clicks counter item (PK = DOMAIN#..., SK = CLICKS#...): only its counter attribute.
  statement {
    sid       = "CountClicks"
    actions   = ["dynamodb:UpdateItem"]
    resources = [local.table_arn]

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

  # The fallback read: GetItem on the other region's replica, decrypted with that region's key.
  dynamic "statement" {
    for_each = var.fallback_region == "" ? [] : [var.fallback_region]

    content {
      sid       = "ReadFallbackReplica"
      actions   = ["dynamodb:GetItem"]
      resources = ["arn:${local.partition}:dynamodb:${statement.value}:${local.account_id}:table/${var.table_name}"]
    }
  }

  dynamic "statement" {
    for_each = var.fallback_region == "" ? [] : [var.fallback_region]

    content {
      sid       = "DecryptFallbackReplica"
      actions   = ["kms:Decrypt"]
      resources = [var.fallback_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${statement.value}.amazonaws.com"]
      }
    }
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
