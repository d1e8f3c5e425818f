output "cloudfront_distribution_id" {
  description = "CloudFront distribution ID (invalidations are never needed: nothing is cached)."
  value       = aws_cloudfront_distribution.runtime.id
}

output "cloudfront_domain_name" {
  description = "Target of the short-link domains' DNS records (CNAME or alias)."
  value       = aws_cloudfront_distribution.runtime.domain_name
}

output "alb_dns_name" {
  description = "ALB DNS name (answers 403 to anything that did not come through CloudFront)."
  value       = aws_lb.runtime.dns_name
}

output "ecr_repository_url" {
  description = "Repository deploy.sh pushes runtime images to."
  value       = aws_ecr_repository.runtime.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the runtime service."
  value       = aws_ecs_cluster.runtime.name
}

output "ecs_service_name" {
  description = "ECS service deploy.sh updates."
  value       = aws_ecs_service.runtime.name
}

output "ecs_task_family" {
  description = "Task definition family deploy.sh registers revisions of."
  value       = aws_ecs_task_definition.runtime.family
}

output "ecs_container_name" {
  description = "Name of the runtime container in the task definition."
  value       = local.container_name
}

output "runtime_log_group" {
  description = "CloudWatch log group of the runtime tasks."
  value       = aws_cloudwatch_log_group.runtime.name
}

output "dynamodb_table_name" {
  description = "Runtime table (the control plane's LINK_RUNTIME_TABLE_NAME, the runtime's DYNAMODB_TABLE_NAME)."
  value       = aws_dynamodb_table.link_runtime.name
}

output "firehose_stream_name" {
  description = "Click-event delivery stream."
  value       = aws_kinesis_firehose_delivery_stream.click_events.name
}

output "click_events_bucket" {
  description = "Bucket of the Parquet click events."
  value       = aws_s3_bucket.click_events.id
}

output "glue_click_events_table" {
  description = "Glue database.table describing the click events."
  value       = "${aws_glue_catalog_database.analytics.name}.${aws_glue_catalog_table.click_events.name}"
}

output "waf_web_acl_arn" {
  description = "CLOUDFRONT-scope web ACL (us-east-1) attached to the distribution."
  value       = aws_wafv2_web_acl.cloudfront.arn
}

output "sns_alerts_topic_arn" {
  description = "Topic every alarm publishes to."
  value       = aws_sns_topic.alerts.arn
}

output "publisher_policy_arn" {
  description = "IAM policy to attach to the role the control plane (Django, Celery) runs as."
  value       = aws_iam_policy.publisher.arn
}

output "signing_secret_arns" {
  description = "Link-signing keyrings by name (a link's signature_key_id is the secret name)."
  value       = { for name, secret in aws_secretsmanager_secret.signing : secret.name => secret.arn }
}

output "origin_verify_secret_arn" {
  description = "Secret with the origin-verify header value(s)."
  value       = aws_secretsmanager_secret.origin_verify.arn
}

output "ip_hash_key_secret_arn" {
  description = "Secret with the IP-hashing key."
  value       = aws_secretsmanager_secret.ip_hash_key.arn
}

output "kms_key_arn" {
  description = "Customer-managed key of the estate's data at rest."
  value       = aws_kms_key.main.arn
}

output "health_check_url" {
  description = "The runtime's health endpoint through CloudFront (deploy.sh's smoke test)."
  value       = "https://${var.domain_names[0]}/health"
}

output "click_objects_queue_url" {
  description = "SQS queue of new click-event objects: the control plane's LINK_TRACKING[\"CLICK_EVENTS_QUEUE_URL\"]."
  value       = aws_sqs_queue.click_objects.id
}
