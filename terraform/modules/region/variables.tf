# Every value is validated by the root module, which documents it (terraform/variables.tf);
# here they are only typed.

variable "name" {
  description = "Prefix of this region's resource names."
  type        = string
}

variable "aws_region" {
  description = "This region (the module's aws provider is configured for it)."
  type        = string
}

variable "fallback_region" {
  description = "The other region holding a replica of the runtime table (the runtime's DYNAMODB_FALLBACK_REGION); empty in a one-region estate."
  type        = string
  default     = ""
}

variable "fallback_kms_key_arn" {
  description = "Key of the fallback region's table replica (the runtime decrypts through DynamoDB there)."
  type        = string
  default     = ""
}

variable "replica_regions" {
  description = "Every region holding a replica of the runtime table."
  type        = list(string)
}

variable "serves_failover" {
  description = "This region is the secondary origin of CloudFront's origin group: any sustained traffic here means the primary is failing."
  type        = bool
  default     = false
}

variable "failover_requests_threshold" {
  description = "Requests a minute on the secondary region's ALB that raise the region-failover alarm."
  type        = number
  default     = 10
}

variable "environment" {
  type = string
}

variable "repository_name" {
  description = "Runtime image repository (the same name in every region: the primary's registry replicates to the others)."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "enable_gateway_endpoints" {
  type = bool
}

variable "private_route_table_ids" {
  type = list(string)
}

variable "alb_certificate_arn" {
  type = string
}

variable "image_tag" {
  type = string
}

variable "ecs_task_cpu" {
  type = number
}

variable "ecs_task_memory" {
  type = number
}

variable "web_concurrency" {
  type = number
}

variable "ecs_desired_count" {
  type = number
}

variable "ecs_min_capacity" {
  type = number
}

variable "ecs_max_capacity" {
  type = number
}

variable "cpu_target_percent" {
  type = number
}

variable "requests_per_target" {
  type = number
}

variable "default_fallback_url" {
  type = string
}

variable "log_level" {
  type = string
}

variable "runtime_environment_overrides" {
  type = map(string)
}

variable "signing_secret_prefix" {
  type = string
}

variable "table_name" {
  description = "The runtime table (a replica of it is in this region)."
  type        = string
}

variable "origin_verify_header" {
  type = string
}

variable "origin_verify_values" {
  description = "Values of the origin-verify header the ALB accepts."
  type        = list(string)
  sensitive   = true
}

variable "origin_verify_secret_arn" {
  description = "This region's copy (the secret or its replica) of the origin-verify secret."
  type        = string
}

variable "ip_hash_key_secret_arn" {
  description = "This region's copy (the secret or its replica) of the IP-hashing key."
  type        = string
}

variable "cloudfront_distribution_id" {
  type = string
}

variable "waf_web_acl_name" {
  type = string
}

variable "deletion_protection" {
  type = bool
}

variable "click_events_bucket_name" {
  description = "This region's click-events bucket."
  type        = string
}

variable "click_events_bucket_names" {
  description = "Every region's click-events bucket, this one first: the Glue table reads them all."
  type        = list(string)
}

variable "firehose_buffer_size_mb" {
  type = number
}

variable "firehose_buffer_interval_seconds" {
  type = number
}

variable "click_events_transition_days" {
  type = number
}

variable "click_events_expiration_days" {
  type = number
}

variable "log_retention_days" {
  type = number
}

variable "access_log_retention_days" {
  type = number
}

variable "alert_email" {
  type = string
}

variable "error_rate_threshold_percent" {
  type = number
}

variable "latency_p99_threshold_seconds" {
  type = number
}

variable "firehose_freshness_threshold_seconds" {
  type = number
}

variable "control_plane_metrics_namespace" {
  type = string
}

variable "click_ingest_visibility_timeout_seconds" {
  type = number
}

variable "click_ingest_max_receive_count" {
  type = number
}

variable "click_ingest_max_age_seconds" {
  type = number
}
