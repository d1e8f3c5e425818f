# Is each region serving? One Route 53 health check per region follows that region's
# no-healthy-targets alarm; when the region's CloudWatch cannot be read at all (the region is
# lost) the check counts as unhealthy. Route 53 publishes the checks' status in us-east-1,
# where an alarm per region pages on the edge alerts topic: a lost region cannot page from its
# own alarms. (The secondary region's region-failover alarm pages from the survivor when the
# primary fails; these alarms also cover the secondary being lost, which nothing else sees
# while the primary serves every click.) Estates of one region have neither.

resource "aws_route53_health_check" "region" {
  for_each = local.two_regions ? local.region_alarms : {}

  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = each.value
  cloudwatch_alarm_region         = each.key
  insufficient_data_health_status = "Unhealthy"

  tags = {
    Name = "${local.name}-${each.key}-serving"
  }
}

locals {
  # Region => the name of its no-healthy-targets alarm.
  region_alarms = merge(
    { (var.aws_region) = module.primary.no_healthy_targets_alarm_name },
    local.two_regions ? { (local.secondary_region) = module.secondary[0].no_healthy_targets_alarm_name } : {},
  )
}

resource "aws_sns_topic" "edge_alerts" {
  count    = local.two_regions ? 1 : 0
  provider = aws.us_east_1

  name              = "${local.name}-edge-alerts"
  kms_master_key_id = aws_kms_key.edge.arn
}

resource "aws_sns_topic_subscription" "edge_alerts_email" {
  count    = local.two_regions && var.alert_email != "" ? 1 : 0
  provider = aws.us_east_1

  topic_arn = aws_sns_topic.edge_alerts[0].arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_cloudwatch_metric_alarm" "region_unhealthy" {
  for_each = aws_route53_health_check.region
  provider = aws.us_east_1

  alarm_name          = "${local.name}-region-unhealthy-${each.key}"
  alarm_description   = "${each.key} is not serving redirects (no healthy runtime task, or its CloudWatch cannot be read): CloudFront sends its clicks to the other region. Runbook: ${local.runbooks}/region-lost.md (back to OK: ${local.runbooks}/region-back.md)"
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = each.value.id }
  statistic           = "Minimum"
  period              = 60
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 2
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.edge_alerts[0].arn]
  ok_actions          = [aws_sns_topic.edge_alerts[0].arn]
}
