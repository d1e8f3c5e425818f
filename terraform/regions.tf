# The runtime estate per region (modules/region): the primary region always, the secondary
# region when var.secondary is set. What is global or replicated stays here: CloudFront and its
# WAF (cloudfront.tf, waf.tf), the runtime table as a global table (dynamodb.tf), the secrets
# and their replicas (secrets.tf), the control plane's policy (iam.tf).

locals {
  two_regions      = var.secondary != null
  secondary_region = local.two_regions ? var.secondary.region : ""
  replica_regions  = compact([var.aws_region, local.secondary_region])

  # CloudFront's origin group: on with a second region unless switched off.
  origin_failover = coalesce(var.origin_failover, local.two_regions)

  # Resource names: the primary region keeps the names of a one-region estate; the secondary's
  # carry a "-2" (names of IAM roles, dashboards and buckets are account- or world-wide).
  secondary_name = "${local.name}-2"

  # Each region's Firehose delivers to a bucket in its own region; the Glue table of each region
  # reads every region's bucket (modules/region/firehose.tf).
  click_events_bucket_names = compact([
    "${local.name}-click-events-${local.account_id}",
    local.two_regions ? "${local.secondary_name}-click-events-${local.account_id}" : "",
  ])

  # A secret replica keeps the secret's ARN but for the region.
  origin_verify_secret_secondary_arn = replace(aws_secretsmanager_secret.origin_verify.arn, ":${var.aws_region}:", ":${local.secondary_region}:")
  ip_hash_key_secret_secondary_arn   = replace(aws_secretsmanager_secret.ip_hash_key.arn, ":${var.aws_region}:", ":${local.secondary_region}:")
}

module "primary" {
  source = "./modules/region"

  name            = local.name
  aws_region      = var.aws_region
  environment     = var.environment
  repository_name = local.name

  fallback_region      = local.secondary_region
  fallback_kms_key_arn = local.two_regions ? module.secondary[0].kms_key_arn : ""
  replica_regions      = local.replica_regions

  vpc_id                   = var.vpc_id
  public_subnet_ids        = var.public_subnet_ids
  private_subnet_ids       = var.private_subnet_ids
  enable_gateway_endpoints = var.enable_gateway_endpoints
  private_route_table_ids  = var.private_route_table_ids
  alb_certificate_arn      = var.alb_certificate_arn

  origin_verify_secret_arn = aws_secretsmanager_secret.origin_verify.arn
  ip_hash_key_secret_arn   = aws_secretsmanager_secret.ip_hash_key.arn

  click_events_bucket_name  = local.click_events_bucket_names[0]
  click_events_bucket_names = local.click_events_bucket_names

  image_tag                               = var.image_tag
  ecs_task_cpu                            = var.ecs_task_cpu
  ecs_task_memory                         = var.ecs_task_memory
  web_concurrency                         = var.web_concurrency
  ecs_desired_count                       = var.ecs_desired_count
  ecs_min_capacity                        = var.ecs_min_capacity
  ecs_max_capacity                        = var.ecs_max_capacity
  cpu_target_percent                      = var.cpu_target_percent
  requests_per_target                     = var.requests_per_target
  default_fallback_url                    = var.default_fallback_url
  log_level                               = var.log_level
  runtime_environment_overrides           = var.runtime_environment_overrides
  signing_secret_prefix                   = var.signing_secret_prefix
  table_name                              = local.table_name
  origin_verify_header                    = local.origin_verify_header
  origin_verify_values                    = local.origin_verify_values
  cloudfront_distribution_id              = aws_cloudfront_distribution.runtime.id
  waf_web_acl_name                        = aws_wafv2_web_acl.cloudfront.name
  deletion_protection                     = var.deletion_protection
  firehose_buffer_size_mb                 = var.firehose_buffer_size_mb
  firehose_buffer_interval_seconds        = var.firehose_buffer_interval_seconds
  click_events_transition_days            = var.click_events_transition_days
  click_events_expiration_days            = var.click_events_expiration_days
  log_retention_days                      = var.log_retention_days
  access_log_retention_days               = var.access_log_retention_days
  alert_email                             = var.alert_email
  error_rate_threshold_percent            = var.error_rate_threshold_percent
  latency_p99_threshold_seconds           = var.latency_p99_threshold_seconds
  firehose_freshness_threshold_seconds    = var.firehose_freshness_threshold_seconds
  control_plane_metrics_namespace         = var.control_plane_metrics_namespace
  click_ingest_visibility_timeout_seconds = var.click_ingest_visibility_timeout_seconds
  click_ingest_max_receive_count          = var.click_ingest_max_receive_count
  click_ingest_max_age_seconds            = var.click_ingest_max_age_seconds
}

module "secondary" {
  source = "./modules/region"
  count  = local.two_regions ? 1 : 0

  providers = {
    aws = aws.secondary
  }

  name            = local.secondary_name
  aws_region      = local.secondary_region
  environment     = var.environment
  repository_name = local.name

  fallback_region             = var.aws_region
  fallback_kms_key_arn        = module.primary.kms_key_arn
  replica_regions             = local.replica_regions
  serves_failover             = local.origin_failover
  failover_requests_threshold = var.failover_requests_threshold

  vpc_id                   = var.secondary.vpc_id
  public_subnet_ids        = var.secondary.public_subnet_ids
  private_subnet_ids       = var.secondary.private_subnet_ids
  enable_gateway_endpoints = var.enable_gateway_endpoints && length(var.secondary.private_route_table_ids) > 0
  private_route_table_ids  = var.secondary.private_route_table_ids
  alb_certificate_arn      = var.secondary.alb_certificate_arn

  origin_verify_secret_arn = local.origin_verify_secret_secondary_arn
  ip_hash_key_secret_arn   = local.ip_hash_key_secret_secondary_arn

  # This region's bucket first.
  click_events_bucket_name  = local.click_events_bucket_names[1]
  click_events_bucket_names = reverse(local.click_events_bucket_names)

  image_tag                               = var.image_tag
  ecs_task_cpu                            = var.ecs_task_cpu
  ecs_task_memory                         = var.ecs_task_memory
  web_concurrency                         = var.web_concurrency
  ecs_desired_count                       = var.ecs_desired_count
  ecs_min_capacity                        = var.ecs_min_capacity
  ecs_max_capacity                        = var.ecs_max_capacity
  cpu_target_percent                      = var.cpu_target_percent
  requests_per_target                     = var.requests_per_target
  default_fallback_url                    = var.default_fallback_url
  log_level                               = var.log_level
  runtime_environment_overrides           = var.runtime_environment_overrides
  signing_secret_prefix                   = var.signing_secret_prefix
  table_name                              = local.table_name
  origin_verify_header                    = local.origin_verify_header
  origin_verify_values                    = local.origin_verify_values
  cloudfront_distribution_id              = aws_cloudfront_distribution.runtime.id
  waf_web_acl_name                        = aws_wafv2_web_acl.cloudfront.name
  deletion_protection                     = var.deletion_protection
  firehose_buffer_size_mb                 = var.firehose_buffer_size_mb
  firehose_buffer_interval_seconds        = var.firehose_buffer_interval_seconds
  click_events_transition_days            = var.click_events_transition_days
  click_events_expiration_days            = var.click_events_expiration_days
  log_retention_days                      = var.log_retention_days
  access_log_retention_days               = var.access_log_retention_days
  alert_email                             = var.alert_email
  error_rate_threshold_percent            = var.error_rate_threshold_percent
  latency_p99_threshold_seconds           = var.latency_p99_threshold_seconds
  firehose_freshness_threshold_seconds    = var.firehose_freshness_threshold_seconds
  control_plane_metrics_namespace         = var.control_plane_metrics_namespace
  click_ingest_visibility_timeout_seconds = var.click_ingest_visibility_timeout_seconds
  click_ingest_max_receive_count          = var.click_ingest_max_receive_count
  click_ingest_max_age_seconds            = var.click_ingest_max_age_seconds
}

# Images pushed to the primary region's repository are replicated to the secondary's (same
# name), so its tasks pull from their own region and deploy.sh pushes once.
resource "aws_ecr_replication_configuration" "runtime" {
  count = local.two_regions ? 1 : 0

  replication_configuration {
    rule {
      destination {
        region      = local.secondary_region
        registry_id = local.account_id
      }

      repository_filter {
        filter      = local.name
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}

# The estate of one region was the root module before it became modules/region: its resources
# keep their state, so an existing one-region estate plans no change.
moved {
  from = aws_lb.runtime
  to   = module.primary.aws_lb.runtime
}

moved {
  from = aws_lb_target_group.runtime
  to   = module.primary.aws_lb_target_group.runtime
}

moved {
  from = aws_lb_listener.http
  to   = module.primary.aws_lb_listener.http
}

moved {
  from = aws_lb_listener.https
  to   = module.primary.aws_lb_listener.https
}

moved {
  from = aws_lb_listener_rule.from_cloudfront
  to   = module.primary.aws_lb_listener_rule.from_cloudfront
}

moved {
  from = aws_sqs_queue.click_objects_dlq
  to   = module.primary.aws_sqs_queue.click_objects_dlq
}

moved {
  from = aws_sqs_queue.click_objects
  to   = module.primary.aws_sqs_queue.click_objects
}

moved {
  from = aws_sqs_queue_redrive_allow_policy.click_objects_dlq
  to   = module.primary.aws_sqs_queue_redrive_allow_policy.click_objects_dlq
}

moved {
  from = aws_sqs_queue_policy.click_objects
  to   = module.primary.aws_sqs_queue_policy.click_objects
}

moved {
  from = aws_s3_bucket_notification.click_events
  to   = module.primary.aws_s3_bucket_notification.click_events
}

moved {
  from = aws_cloudwatch_metric_alarm.click_objects_dead_letters
  to   = module.primary.aws_cloudwatch_metric_alarm.click_objects_dead_letters
}

moved {
  from = aws_cloudwatch_metric_alarm.click_objects_backlog
  to   = module.primary.aws_cloudwatch_metric_alarm.click_objects_backlog
}

moved {
  from = aws_ecr_repository.runtime
  to   = module.primary.aws_ecr_repository.runtime
}

moved {
  from = aws_ecr_lifecycle_policy.runtime
  to   = module.primary.aws_ecr_lifecycle_policy.runtime
}

moved {
  from = aws_ecs_cluster.runtime
  to   = module.primary.aws_ecs_cluster.runtime
}

moved {
  from = aws_cloudwatch_log_group.runtime
  to   = module.primary.aws_cloudwatch_log_group.runtime
}

moved {
  from = aws_ecs_task_definition.runtime
  to   = module.primary.aws_ecs_task_definition.runtime
}

moved {
  from = aws_ecs_service.runtime
  to   = module.primary.aws_ecs_service.runtime
}

moved {
  from = aws_appautoscaling_target.runtime
  to   = module.primary.aws_appautoscaling_target.runtime
}

moved {
  from = aws_appautoscaling_policy.cpu
  to   = module.primary.aws_appautoscaling_policy.cpu
}

moved {
  from = aws_appautoscaling_policy.requests
  to   = module.primary.aws_appautoscaling_policy.requests
}

moved {
  from = aws_s3_bucket.click_events
  to   = module.primary.aws_s3_bucket.click_events
}

moved {
  from = aws_s3_bucket_public_access_block.click_events
  to   = module.primary.aws_s3_bucket_public_access_block.click_events
}

moved {
  from = aws_s3_bucket_ownership_controls.click_events
  to   = module.primary.aws_s3_bucket_ownership_controls.click_events
}

moved {
  from = aws_s3_bucket_versioning.click_events
  to   = module.primary.aws_s3_bucket_versioning.click_events
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.click_events
  to   = module.primary.aws_s3_bucket_server_side_encryption_configuration.click_events
}

moved {
  from = aws_s3_bucket_logging.click_events
  to   = module.primary.aws_s3_bucket_logging.click_events
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.click_events
  to   = module.primary.aws_s3_bucket_lifecycle_configuration.click_events
}

moved {
  from = aws_s3_bucket_policy.click_events
  to   = module.primary.aws_s3_bucket_policy.click_events
}

moved {
  from = aws_glue_catalog_database.analytics
  to   = module.primary.aws_glue_catalog_database.analytics
}

moved {
  from = aws_glue_catalog_table.click_events
  to   = module.primary.aws_glue_catalog_table.click_events
}

moved {
  from = aws_cloudwatch_log_group.firehose
  to   = module.primary.aws_cloudwatch_log_group.firehose
}

moved {
  from = aws_cloudwatch_log_stream.firehose_s3
  to   = module.primary.aws_cloudwatch_log_stream.firehose_s3
}

moved {
  from = aws_kinesis_firehose_delivery_stream.click_events
  to   = module.primary.aws_kinesis_firehose_delivery_stream.click_events
}

moved {
  from = aws_iam_role.ecs_execution
  to   = module.primary.aws_iam_role.ecs_execution
}

moved {
  from = aws_iam_role_policy.ecs_execution
  to   = module.primary.aws_iam_role_policy.ecs_execution
}

moved {
  from = aws_iam_role.ecs_task
  to   = module.primary.aws_iam_role.ecs_task
}

moved {
  from = aws_iam_role_policy.ecs_task
  to   = module.primary.aws_iam_role_policy.ecs_task
}

moved {
  from = aws_iam_role.firehose
  to   = module.primary.aws_iam_role.firehose
}

moved {
  from = aws_iam_role_policy.firehose
  to   = module.primary.aws_iam_role_policy.firehose
}

moved {
  from = aws_kms_key.main
  to   = module.primary.aws_kms_key.main
}

moved {
  from = aws_kms_alias.main
  to   = module.primary.aws_kms_alias.main
}

moved {
  from = aws_s3_bucket.logs
  to   = module.primary.aws_s3_bucket.logs
}

moved {
  from = aws_s3_bucket_public_access_block.logs
  to   = module.primary.aws_s3_bucket_public_access_block.logs
}

moved {
  from = aws_s3_bucket_ownership_controls.logs
  to   = module.primary.aws_s3_bucket_ownership_controls.logs
}

moved {
  from = aws_s3_bucket_versioning.logs
  to   = module.primary.aws_s3_bucket_versioning.logs
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.logs
  to   = module.primary.aws_s3_bucket_server_side_encryption_configuration.logs
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.logs
  to   = module.primary.aws_s3_bucket_lifecycle_configuration.logs
}

moved {
  from = aws_s3_bucket_policy.logs
  to   = module.primary.aws_s3_bucket_policy.logs
}

moved {
  from = aws_sns_topic.alerts
  to   = module.primary.aws_sns_topic.alerts
}

moved {
  from = aws_sns_topic_subscription.alerts_email
  to   = module.primary.aws_sns_topic_subscription.alerts_email
}

moved {
  from = aws_cloudwatch_metric_alarm.high_error_rate
  to   = module.primary.aws_cloudwatch_metric_alarm.high_error_rate
}

moved {
  from = aws_cloudwatch_metric_alarm.high_latency
  to   = module.primary.aws_cloudwatch_metric_alarm.high_latency
}

moved {
  from = aws_cloudwatch_metric_alarm.no_healthy_targets
  to   = module.primary.aws_cloudwatch_metric_alarm.no_healthy_targets
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_throttling
  to   = module.primary.aws_cloudwatch_metric_alarm.dynamodb_throttling
}

moved {
  from = aws_cloudwatch_metric_alarm.firehose_delivery_lag
  to   = module.primary.aws_cloudwatch_metric_alarm.firehose_delivery_lag
}

moved {
  from = aws_cloudwatch_metric_alarm.firehose_delivery_failures
  to   = module.primary.aws_cloudwatch_metric_alarm.firehose_delivery_failures
}

moved {
  from = aws_cloudwatch_metric_alarm.firehose_conversion_failures
  to   = module.primary.aws_cloudwatch_metric_alarm.firehose_conversion_failures
}

moved {
  from = aws_cloudwatch_metric_alarm.firehose_throttled_records
  to   = module.primary.aws_cloudwatch_metric_alarm.firehose_throttled_records
}

moved {
  from = aws_cloudwatch_metric_alarm.click_events_journaled
  to   = module.primary.aws_cloudwatch_metric_alarm.click_events_journaled
}

moved {
  from = aws_cloudwatch_dashboard.runtime
  to   = module.primary.aws_cloudwatch_dashboard.runtime
}

moved {
  from = aws_security_group.alb
  to   = module.primary.aws_security_group.alb
}

moved {
  from = aws_vpc_security_group_ingress_rule.alb_https_from_cloudfront
  to   = module.primary.aws_vpc_security_group_ingress_rule.alb_https_from_cloudfront
}

moved {
  from = aws_vpc_security_group_egress_rule.alb_to_tasks
  to   = module.primary.aws_vpc_security_group_egress_rule.alb_to_tasks
}

moved {
  from = aws_security_group.ecs_tasks
  to   = module.primary.aws_security_group.ecs_tasks
}

moved {
  from = aws_vpc_security_group_ingress_rule.tasks_from_alb
  to   = module.primary.aws_vpc_security_group_ingress_rule.tasks_from_alb
}

moved {
  from = aws_vpc_security_group_egress_rule.tasks_https_out
  to   = module.primary.aws_vpc_security_group_egress_rule.tasks_https_out
}

moved {
  from = aws_vpc_endpoint.dynamodb
  to   = module.primary.aws_vpc_endpoint.dynamodb
}

moved {
  from = aws_vpc_endpoint.s3
  to   = module.primary.aws_vpc_endpoint.s3
}
