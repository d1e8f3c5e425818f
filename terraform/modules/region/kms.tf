# One customer-managed key for the estate's data at rest in aws_region: the runtime table,
# secrets, click events, log groups, the alerts topic and the image repository.
resource "aws_kms_key" "main" {
  description             = "${local.name}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_main.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

# Key policies name the key as "*" (the key they are attached to); access is delegated to IAM
# through the account root, plus the two services that cannot use IAM grants.
data "aws_iam_policy_document" "kms_main" {
  #checkov:skip=CKV_AWS_109:A key policy can only name its own key, as "*"; the account-root statement delegates to IAM policies, as AWS's default key policy does.
  #checkov:skip=CKV_AWS_111:A key policy can only name its own key, as "*"; the Logs statement is bounded by an encryption-context condition and the alarms statement is the form AWS documents.
  #checkov:skip=CKV_AWS_356:A key policy can only name its own key, as "*".
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.aws_region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "S3NotifiesTheEncryptedClickObjectsQueue"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    # S3 event notifications to a queue encrypted with a customer-managed key (AWS documents
    # this statement); only for this account's buckets.
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToTheEncryptedAlertsTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    # The statement AWS documents for alarm actions on encrypted topics (SNS uses the key on
    # CloudWatch's behalf), without conditions that the documented form does not carry.
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}
