# --- The control plane's permissions, to attach to whatever role runs Django and Celery ---------
# With a secondary region, every statement covers both regions' copies: the table's replica, the
# keyrings' replicas, each region's click-events bucket, ingest queue and key.
# Publishes records (PutItem, conditional on runtime_version), unpublishes (UpdateItem), finds a
# campaign's records (Query on campaign-index), signs URLs with the keyrings, erases a data
# subject's click events (privacy requests), and ingests click events (the click-objects queue
# and the objects it names).

locals {
  table_arns = concat([aws_dynamodb_table.link_runtime.arn], [for replica in aws_dynamodb_table.link_runtime.replica : replica.arn])

  signing_secrets_arn_patterns = [
    for region in local.replica_regions :
    "arn:${local.partition}:secretsmanager:${region}:${local.account_id}:secret:${var.signing_secret_prefix}*"
  ]

  click_events_bucket_arns = concat([module.primary.click_events_bucket_arn], (local.two_regions ? [module.secondary[0].click_events_bucket_arn] : []))
  click_objects_queue_arns = concat([module.primary.click_objects_queue_arn], (local.two_regions ? [module.secondary[0].click_objects_queue_arn] : []))
  kms_key_arns             = concat([module.primary.kms_key_arn], (local.two_regions ? [module.secondary[0].kms_key_arn] : []))
}

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
    resources = flatten([
      for arn in local.table_arns : [arn, "${arn}/index/campaign-index"]
    ])
  }

  statement {
    sid       = "ReadSigningKeyrings"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.signing_secrets_arn_patterns
  }

  # Privacy erasure (services/privacy.py, S3ClickEventStore): rewrite click-event objects without
  # a subject's events and delete their earlier versions.
  statement {
    sid       = "EraseClickEventsList"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = local.click_events_bucket_arns
  }

  statement {
    sid = "EraseClickEventsObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
    ]
    resources = [for arn in local.click_events_bucket_arns : "${arn}/*"]
  }

  statement {
    sid       = "EraseClickEventsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [for region in local.replica_regions : "s3.${region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = flatten([for arn in local.click_events_bucket_arns : ["${arn}/*", arn]])
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
    resources = local.click_objects_queue_arns
  }

  statement {
    sid       = "ReadClickEventObjects"
    actions   = ["s3:GetObject"]
    resources = [for arn in local.click_events_bucket_arns : "${arn}/click-events/*"]
  }

  statement {
    # ingest_click_events --source s3://bucket/click-events/ (a backfill) lists the prefix.
    sid       = "ListClickEventObjects"
    actions   = ["s3:ListBucket"]
    resources = local.click_events_bucket_arns

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["click-events/*"]
    }
  }

  statement {
    sid       = "UseTableSecretsQueueAndBucketKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = local.kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = flatten([
        for region in local.replica_regions : [
          "dynamodb.${region}.amazonaws.com",
          "secretsmanager.${region}.amazonaws.com",
          "sqs.${region}.amazonaws.com",
          "s3.${region}.amazonaws.com",
        ]
      ])
    }
  }
}

resource "aws_iam_policy" "publisher" {
  name        = "${local.name}-publisher"
  description = "What the link-tracking control plane needs to publish to ${aws_dynamodb_table.link_runtime.name}"
  policy      = data.aws_iam_policy_document.publisher.json
}
