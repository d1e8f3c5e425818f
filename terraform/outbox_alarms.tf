# Control-plane alarms: the control plane publishes its metrics in the primary region, so these
# live there once (not per region), on the primary region's alerts topic.

locals {
  runbooks = "docs/runbooks"
}

# --- Control plane: the publish outbox -----------------------------------------------------------
# The control plane publishes these two metrics (docs/DEPLOYMENT.md, "Outbox metrics"): the age of
# the oldest PENDING PublishOutbox row and the number of FAILED rows. No data means no backlog.

resource "aws_cloudwatch_metric_alarm" "outbox_backlog" {
  alarm_name          = "${local.name}-outbox-backlog"
  alarm_description   = "Publish-outbox rows stay PENDING longer than ${var.outbox_oldest_pending_threshold_seconds}s: link changes are not reaching DynamoDB. Runbook: ${local.runbooks}/outbox-backlog.md"
  namespace           = var.control_plane_metrics_namespace
  metric_name         = "OutboxOldestPendingAgeSeconds"
  dimensions          = { Environment = var.environment }
  statistic           = "Maximum"
  period              = 300
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.outbox_oldest_pending_threshold_seconds
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [module.primary.sns_alerts_topic_arn]
  ok_actions          = [module.primary.sns_alerts_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "outbox_failures" {
  alarm_name          = "${local.name}-outbox-failures"
  alarm_description   = "Publish-outbox rows are FAILED: those link changes never reached DynamoDB. Runbook: ${local.runbooks}/outbox-backlog.md"
  namespace           = var.control_plane_metrics_namespace
  metric_name         = "OutboxFailedCount"
  dimensions          = { Environment = var.environment }
  statistic           = "Maximum"
  period              = 300
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [module.primary.sns_alerts_topic_arn]
  ok_actions          = [module.primary.sns_alerts_topic_arn]
}
