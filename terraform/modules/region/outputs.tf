output "alb_dns_name" {
  description = "This region's ALB (an origin of the CloudFront distribution)."
  value       = aws_lb.runtime.dns_name
}

output "kms_key_arn" {
  description = "This region's key of data at rest (its table replica and secret replicas use it too)."
  value       = aws_kms_key.main.arn
}

output "ecr_repository_url" {
  value = aws_ecr_repository.runtime.repository_url
}

output "ecr_repository_arn" {
  value = aws_ecr_repository.runtime.arn
}

output "ecs_cluster_name" {
  value = aws_ecs_cluster.runtime.name
}

output "ecs_service_name" {
  value = aws_ecs_service.runtime.name
}

output "ecs_task_family" {
  value = aws_ecs_task_definition.runtime.family
}

output "ecs_container_name" {
  value = local.container_name
}

output "runtime_log_group" {
  value = aws_cloudwatch_log_group.runtime.name
}

output "runtime_environment" {
  description = "The runtime container's plain environment."
  value       = local.runtime_environment
}

output "firehose_stream_name" {
  value = aws_kinesis_firehose_delivery_stream.click_events.name
}

output "firehose_stream_arn" {
  value = aws_kinesis_firehose_delivery_stream.click_events.arn
}

output "click_events_bucket" {
  value = aws_s3_bucket.click_events.id
}

output "click_events_bucket_arn" {
  value = aws_s3_bucket.click_events.arn
}

output "logs_bucket" {
  value = aws_s3_bucket.logs.id
}

output "logs_bucket_domain_name" {
  description = "Target of CloudFront's standard logs (once the bucket's ACLs are enabled)."
  value       = aws_s3_bucket.logs.bucket_domain_name

  depends_on = [aws_s3_bucket_ownership_controls.logs]
}

output "glue_click_events_table" {
  value = "${aws_glue_catalog_database.analytics.name}.${aws_glue_catalog_table.click_events.name}"
}

output "glue_click_events_parameters" {
  value = aws_glue_catalog_table.click_events.parameters
}

output "click_objects_queue_url" {
  value = aws_sqs_queue.click_objects.id
}

output "click_objects_queue_arn" {
  value = aws_sqs_queue.click_objects.arn
}

output "sns_alerts_topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "no_healthy_targets_alarm_name" {
  description = "The alarm a Route 53 health check follows to tell whether this region serves."
  value       = aws_cloudwatch_metric_alarm.no_healthy_targets.alarm_name
}

output "region_failover_alarm_names" {
  value = aws_cloudwatch_metric_alarm.region_failover[*].alarm_name
}

output "execution_role_arn" {
  value = aws_iam_role.ecs_execution.arn
}

output "task_role_arn" {
  value = aws_iam_role.ecs_task.arn
}

output "regional_resources" {
  description = "One id per kind of per-region resource (every region must have each one)."
  value = {
    alb             = aws_lb.runtime.arn
    target_group    = aws_lb_target_group.runtime.arn
    ecs_cluster     = aws_ecs_cluster.runtime.arn
    ecs_service     = aws_ecs_service.runtime.id
    task_definition = aws_ecs_task_definition.runtime.arn
    ecr_repository  = aws_ecr_repository.runtime.arn
    kms_key         = aws_kms_key.main.arn
    firehose        = aws_kinesis_firehose_delivery_stream.click_events.arn
    click_bucket    = aws_s3_bucket.click_events.arn
    logs_bucket     = aws_s3_bucket.logs.arn
    glue_table      = aws_glue_catalog_table.click_events.arn
    ingest_queue    = aws_sqs_queue.click_objects.arn
    ingest_dlq      = aws_sqs_queue.click_objects_dlq.arn
    alerts_topic    = aws_sns_topic.alerts.arn
    dashboard       = aws_cloudwatch_dashboard.runtime.dashboard_arn
  }
}

output "region" {
  value = var.aws_region
}

# What terraform test (tests/*.tftest.hcl) checks of the rendered region.
output "container_definitions" {
  description = "The runtime task definition's container definitions (JSON)."
  value       = aws_ecs_task_definition.runtime.container_definitions
}

output "alb_accepted_origin_verify_values" {
  description = "Origin-verify values the ALB listener rule forwards."
  value       = one(aws_lb_listener_rule.from_cloudfront.condition).http_header[0].values
  sensitive   = true
}

output "firehose_buffering_size" {
  value = aws_kinesis_firehose_delivery_stream.click_events.extended_s3_configuration[0].buffering_size
}

output "dashboard_widget_counts" {
  description = "Widgets declared and widgets rendered in the dashboard body."
  value = {
    declared = length(local.dashboard_widgets)
    rendered = length(jsondecode(aws_cloudwatch_dashboard.runtime.dashboard_body).widgets)
  }
}
