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
  value       = module.primary.alb_dns_name
}

output "ecr_repository_url" {
  description = "Repository deploy.sh pushes runtime images to."
  value       = module.primary.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the runtime service."
  value       = module.primary.ecs_cluster_name
}

output "ecs_service_name" {
  description = "ECS service deploy.sh updates."
  value       = module.primary.ecs_service_name
}

output "ecs_task_family" {
  description = "Task definition family deploy.sh registers revisions of."
  value       = module.primary.ecs_task_family
}

output "ecs_container_name" {
  description = "Name of the runtime container in the task definition."
  value       = module.primary.ecs_container_name
}

output "runtime_log_group" {
  description = "CloudWatch log group of the runtime tasks."
  value       = module.primary.runtime_log_group
}

output "dynamodb_table_name" {
  description = "Runtime table (the control plane's LINK_RUNTIME_TABLE_NAME, the runtime's DYNAMODB_TABLE_NAME)."
  value       = aws_dynamodb_table.link_runtime.name
}

output "firehose_stream_name" {
  description = "Click-event delivery stream."
  value       = module.primary.firehose_stream_name
}

output "click_events_bucket" {
  description = "Bucket of the Parquet click events."
  value       = module.primary.click_events_bucket
}

output "glue_click_events_table" {
  description = "Glue database.table describing the click events."
  value       = module.primary.glue_click_events_table
}

output "waf_web_acl_arn" {
  description = "CLOUDFRONT-scope web ACL (us-east-1) attached to the distribution."
  value       = aws_wafv2_web_acl.cloudfront.arn
}

output "sns_alerts_topic_arn" {
  description = "Topic every alarm publishes to."
  value       = module.primary.sns_alerts_topic_arn
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
  value       = module.primary.kms_key_arn
}

output "health_check_url" {
  description = "The runtime's health endpoint through CloudFront (deploy.sh's smoke test)."
  value       = "https://${var.domain_names[0]}/health"
}

output "click_objects_queue_url" {
  description = "SQS queue of new click-event objects: the control plane's LINK_TRACKING[\"CLICK_EVENTS_QUEUE_URL\"]."
  value       = module.primary.click_objects_queue_url
}

output "regions" {
  description = "Regions holding a replica of the runtime table, the primary first."
  value       = local.replica_regions
}

output "secondary" {
  description = "The secondary region's estate (null in a one-region estate): what deploy.sh and the control plane need there. Its images come from the primary's repository by replication."
  value = local.two_regions ? {
    region                  = local.secondary_region
    alb_dns_name            = module.secondary[0].alb_dns_name
    ecr_repository_url      = module.secondary[0].ecr_repository_url
    ecs_cluster_name        = module.secondary[0].ecs_cluster_name
    ecs_service_name        = module.secondary[0].ecs_service_name
    ecs_task_family         = module.secondary[0].ecs_task_family
    runtime_log_group       = module.secondary[0].runtime_log_group
    firehose_stream_name    = module.secondary[0].firehose_stream_name
    click_events_bucket     = module.secondary[0].click_events_bucket
    click_objects_queue_url = module.secondary[0].click_objects_queue_url
    glue_click_events_table = module.secondary[0].glue_click_events_table
    sns_alerts_topic_arn    = module.secondary[0].sns_alerts_topic_arn
    kms_key_arn             = module.secondary[0].kms_key_arn
  } : null
}

output "edge_alerts_topic_arn" {
  description = "Topic (us-east-1) of the alarms that watch each region from outside it (null in a one-region estate)."
  value       = local.two_regions ? aws_sns_topic.edge_alerts[0].arn : null
}
