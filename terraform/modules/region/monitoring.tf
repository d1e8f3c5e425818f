# Alarms publish to one topic. Each alarm's description names the runbook to follow.

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "alerts_email" {
  count = var.alert_email != "" ? 1 : 0

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  runbooks = "docs/runbooks"

  alb_dimensions = {
    LoadBalancer = aws_lb.runtime.arn_suffix
  }

  target_group_dimensions = {
    LoadBalancer = aws_lb.runtime.arn_suffix
    TargetGroup  = aws_lb_target_group.runtime.arn_suffix
  }

  firehose_dimensions = {
    DeliveryStreamName = aws_kinesis_firehose_delivery_stream.click_events.name
  }

  # Operations on the runtime table: the runtime's GetItem and counter UpdateItem, the control
  # plane's PutItem, UpdateItem and campaign-index Query.
  dynamodb_operations = ["GetItem", "UpdateItem", "PutItem", "Query"]
}

# --- Runtime: errors, latency, health ---------------------------------------------------------

# 5xx (from the tasks and from the ALB itself) as a share of requests; quiet below 20 requests
# a minute, where one error would be a large percentage of nothing.
resource "aws_cloudwatch_metric_alarm" "high_error_rate" {
  alarm_name          = "${local.name}-high-error-rate"
  alarm_description   = "5xx responses above ${var.error_rate_threshold_percent}% of requests. Runbook: ${local.runbooks}/high-error-rate.md"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "error_rate"
    label       = "5xx % of requests"
    expression  = "IF(requests >= 20, 100 * (FILL(target_5xx, 0) + FILL(elb_5xx, 0)) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "target_5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb_5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "high_latency" {
  alarm_name          = "${local.name}-high-latency"
  alarm_description   = "p99 target response time above ${var.latency_p99_threshold_seconds}s. Runbook: ${local.runbooks}/high-latency.md"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.target_group_dimensions
  extended_statistic  = "p99"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.latency_p99_threshold_seconds
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "no_healthy_targets" {
  alarm_name          = "${local.name}-no-healthy-targets"
  alarm_description   = "No healthy runtime task behind the ALB: every redirect fails. Runbook: ${local.runbooks}/no-healthy-targets.md"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.target_group_dimensions
  statistic           = "Minimum"
  period              = 60
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 2
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# The secondary region is CloudFront's failover origin: it serves only requests the primary
# failed (connection error, timeout, 5xx). Sustained traffic here means the primary region, its
# runtime or its table is failing: redirects still work, but someone must know.
resource "aws_cloudwatch_metric_alarm" "region_failover" {
  count = var.serves_failover ? 1 : 0

  alarm_name          = "${local.name}-region-failover"
  alarm_description   = "CloudFront is failing over to ${var.aws_region}: over ${var.failover_requests_threshold} requests a minute reach the secondary region's ALB. Runbook: ${local.runbooks}/region-lost.md (back to OK: ${local.runbooks}/region-back.md)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "RequestCount"
  dimensions          = local.alb_dimensions
  statistic           = "Sum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.failover_requests_threshold
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# --- DynamoDB ----------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dynamodb_throttling" {
  alarm_name          = "${local.name}-dynamodb-throttling"
  alarm_description   = "Requests to ${var.table_name} are being throttled. Runbook: ${local.runbooks}/dynamodb-throttling.md"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "throttled"
    label       = "Throttled requests"
    expression  = join(" + ", [for op in local.dynamodb_operations : "FILL(${lower(op)}, 0)"])
    return_data = true
  }

  dynamic "metric_query" {
    for_each = toset(local.dynamodb_operations)

    content {
      id = lower(metric_query.value)

      metric {
        namespace   = "AWS/DynamoDB"
        metric_name = "ThrottledRequests"
        period      = 60
        stat        = "Sum"
        dimensions = {
          TableName = var.table_name
          Operation = metric_query.value
        }
      }
    }
  }
}

# --- Firehose ----------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "firehose_delivery_lag" {
  alarm_name          = "${local.name}-firehose-delivery-lag"
  alarm_description   = "Click events older than ${var.firehose_freshness_threshold_seconds}s are still undelivered to S3. Runbook: ${local.runbooks}/firehose-delivery.md"
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.DataFreshness"
  dimensions          = local.firehose_dimensions
  statistic           = "Maximum"
  period              = 300
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.firehose_freshness_threshold_seconds
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "firehose_delivery_failures" {
  alarm_name          = "${local.name}-firehose-delivery-failures"
  alarm_description   = "Firehose puts to S3 are failing. Runbook: ${local.runbooks}/firehose-delivery.md"
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.Success"
  dimensions          = local.firehose_dimensions
  statistic           = "Minimum"
  period              = 300
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "firehose_conversion_failures" {
  alarm_name          = "${local.name}-firehose-conversion-failures"
  alarm_description   = "Click events fail Parquet conversion (schema mismatch) and land under click-events-errors/. Runbook: ${local.runbooks}/firehose-delivery.md"
  namespace           = "AWS/Firehose"
  metric_name         = "FailedConversion.Records"
  dimensions          = local.firehose_dimensions
  statistic           = "Sum"
  period              = 300
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "firehose_throttled_records" {
  alarm_name          = "${local.name}-firehose-throttled-records"
  alarm_description   = "Firehose throttles the runtime's PutRecordBatch calls (events are journaled and retried). Runbook: ${local.runbooks}/firehose-delivery.md"
  namespace           = "AWS/Firehose"
  metric_name         = "ThrottledRecords"
  dimensions          = local.firehose_dimensions
  statistic           = "Sum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# The runtime journals click events Firehose did not take (throttled, refused, unreachable) and
# replays them; sustained journaling means events are not reaching Firehose at all, which the
# Firehose metrics cannot show (e.g. the task role may not put records).
resource "aws_cloudwatch_metric_alarm" "click_events_journaled" {
  alarm_name          = "${local.name}-click-events-journaled"
  alarm_description   = "The runtime cannot hand click events to Firehose and is journaling them on task storage. Runbook: ${local.runbooks}/firehose-delivery.md"
  namespace           = local.metrics_namespace
  metric_name         = "EventsJournaled"
  dimensions          = { Service = local.metrics_service }
  statistic           = "Sum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# --- Dashboard ---------------------------------------------------------------------------------

locals {
  alb_metric_dims = ["LoadBalancer", aws_lb.runtime.arn_suffix]
  tg_metric_dims  = ["TargetGroup", aws_lb_target_group.runtime.arn_suffix, "LoadBalancer", aws_lb.runtime.arn_suffix]
  firehose_dims   = ["DeliveryStreamName", aws_kinesis_firehose_delivery_stream.click_events.name]

  dashboard_widgets = [
    {
      title = "Requests and 5xx (ALB)"
      metrics = [
        concat(["AWS/ApplicationELB", "RequestCount"], local.alb_metric_dims, [{ stat = "Sum" }]),
        concat(["AWS/ApplicationELB", "HTTPCode_Target_3XX_Count"], local.alb_metric_dims, [{ stat = "Sum", label = "Redirects (3xx)" }]),
        concat(["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"], local.alb_metric_dims, [{ stat = "Sum" }]),
        concat(["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"], local.alb_metric_dims, [{ stat = "Sum" }]),
        concat(["AWS/ApplicationELB", "HTTPCode_ELB_4XX_Count"], local.alb_metric_dims, [{ stat = "Sum", label = "Refused at the ALB (4xx)" }]),
      ]
      region = var.aws_region
    },
    {
      title = "Target response time"
      metrics = [
        concat(["AWS/ApplicationELB", "TargetResponseTime"], local.tg_metric_dims, [{ stat = "p50" }]),
        concat(["AWS/ApplicationELB", "TargetResponseTime"], local.tg_metric_dims, [{ stat = "p99" }]),
      ]
      region = var.aws_region
    },
    {
      title = "Tasks: healthy targets, CPU, memory"
      metrics = [
        concat(["AWS/ApplicationELB", "HealthyHostCount"], local.tg_metric_dims, [{ stat = "Minimum" }]),
        ["AWS/ECS", "CPUUtilization", "ClusterName", aws_ecs_cluster.runtime.name, "ServiceName", aws_ecs_service.runtime.name, { stat = "Average", yAxis = "right" }],
        ["AWS/ECS", "MemoryUtilization", "ClusterName", aws_ecs_cluster.runtime.name, "ServiceName", aws_ecs_service.runtime.name, { stat = "Average", yAxis = "right" }],
      ]
      region = var.aws_region
    },
    {
      title = "DynamoDB: GetItem latency and throttling"
      metrics = concat(
        [["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", var.table_name, "Operation", "GetItem", { stat = "p99" }]],
        [for op in local.dynamodb_operations : ["AWS/DynamoDB", "ThrottledRequests", "TableName", var.table_name, "Operation", op, { stat = "Sum", yAxis = "right" }]],
      )
      region = var.aws_region
    },
    {
      title = "Firehose: click events"
      metrics = [
        concat(["AWS/Firehose", "IncomingRecords"], local.firehose_dims, [{ stat = "Sum" }]),
        concat(["AWS/Firehose", "ThrottledRecords"], local.firehose_dims, [{ stat = "Sum" }]),
        concat(["AWS/Firehose", "FailedConversion.Records"], local.firehose_dims, [{ stat = "Sum" }]),
        concat(["AWS/Firehose", "DeliveryToS3.DataFreshness"], local.firehose_dims, [{ stat = "Maximum", yAxis = "right" }]),
      ]
      region = var.aws_region
    },
    {
      title = "Runtime: outcomes, cache, click events (EMF)"
      metrics = [
        for name in ["Outcome.ok", "Outcome.not_found", "Outcome.error", "CacheHit", "CacheMiss", "OriginRejected", "RateLimited", "EventsDelivered", "EventsJournaled"] :
        [local.metrics_namespace, name, "Service", local.metrics_service, { stat = "Sum" }]
      ]
      region = var.aws_region
    },
    {
      title = "Runtime: redirect latency (ms, EMF)"
      metrics = [
        [local.metrics_namespace, "RedirectLatency", "Service", local.metrics_service, { stat = "p50" }],
        [local.metrics_namespace, "RedirectLatency", "Service", local.metrics_service, { stat = "p99" }],
      ]
      region = var.aws_region
    },
    {
      title = "Publish outbox (control plane)"
      metrics = [
        [var.control_plane_metrics_namespace, "OutboxOldestPendingAgeSeconds", "Environment", var.environment, { stat = "Maximum" }],
        [var.control_plane_metrics_namespace, "OutboxFailedCount", "Environment", var.environment, { stat = "Maximum", yAxis = "right" }],
      ]
      region = var.aws_region
    },
    {
      title = "Edge: CloudFront requests and error rates"
      metrics = [
        ["AWS/CloudFront", "Requests", "DistributionId", var.cloudfront_distribution_id, "Region", "Global", { stat = "Sum" }],
        ["AWS/CloudFront", "5xxErrorRate", "DistributionId", var.cloudfront_distribution_id, "Region", "Global", { stat = "Average", yAxis = "right" }],
        ["AWS/CloudFront", "4xxErrorRate", "DistributionId", var.cloudfront_distribution_id, "Region", "Global", { stat = "Average", yAxis = "right" }],
      ]
      region = "us-east-1"
    },
    {
      title = "Edge: WAF blocked requests"
      metrics = [
        ["AWS/WAFV2", "BlockedRequests", "WebACL", var.waf_web_acl_name, "Rule", "ALL", { stat = "Sum" }],
        ["AWS/WAFV2", "AllowedRequests", "WebACL", var.waf_web_acl_name, "Rule", "ALL", { stat = "Sum", yAxis = "right" }],
      ]
      region = "us-east-1"
    },
  ]
}

resource "aws_cloudwatch_dashboard" "runtime" {
  dashboard_name = local.name

  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          metrics = widget.metrics
          region  = widget.region
          period  = 60
          view    = "timeSeries"
          stacked = false
        }
      }
    ]
  })
}
