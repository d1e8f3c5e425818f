# WAF logs for a CLOUDFRONT-scope web ACL go to a log group in us-east-1, which needs a key there
# (and so does the edge alerts topic of an estate of two regions).
resource "aws_kms_key" "edge" {
  provider = aws.us_east_1

  description             = "${local.name}: WAF logs (us-east-1)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_edge.json
}

resource "aws_kms_alias" "edge" {
  provider = aws.us_east_1

  name          = "alias/${local.name}-edge"
  target_key_id = aws_kms_key.edge.key_id
}

data "aws_iam_policy_document" "kms_edge" {
  #checkov:skip=CKV_AWS_109:A key policy can only name its own key, as "*"; the account-root statement delegates to IAM policies, as AWS's default key policy does.
  #checkov:skip=CKV_AWS_111:A key policy can only name its own key, as "*"; the Logs statement is bounded by an encryption-context condition.
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
    sid = "CloudWatchLogsEncryptsTheWafLogGroup"
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
      identifiers = ["logs.us-east-1.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:*"]
    }
  }

  # The edge alerts topic (region_health.tf) of an estate of two regions.
  dynamic "statement" {
    for_each = local.two_regions ? ["CloudWatchAlarmsPublishToTheEncryptedEdgeAlertsTopic"] : []

    content {
      sid       = statement.value
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
    }
  }
}
