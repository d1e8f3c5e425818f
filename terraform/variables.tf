# ---------------------------------------------------------------------------------------------
# Where and what
# ---------------------------------------------------------------------------------------------

variable "aws_region" {
  description = "Primary region of the estate: the runtime table's primary replica, the control plane's writes, the secrets (CloudFront's WAF and certificate are in us-east-1 regardless)."
  type        = string
  default     = "us-east-1"
}

variable "secondary" {
  description = <<-EOT
    A second region running its own copy of the runtime estate (null, the default: one region).
    It gets a replica of the runtime table (a DynamoDB global table), replicas of the secrets, its
    own ALB, ECS service, Firehose, click-events bucket and ingest queue, and is CloudFront's
    failover origin. Its network and the ALB certificate (ACM, in that region) are its own.
  EOT
  type = object({
    region                  = string
    vpc_id                  = string
    public_subnet_ids       = list(string)
    private_subnet_ids      = list(string)
    private_route_table_ids = optional(list(string), [])
    alb_certificate_arn     = string
  })
  default = null

  validation {
    condition     = var.secondary == null || try(var.secondary.region != var.aws_region, true)
    error_message = "secondary.region must differ from aws_region (the primary region): a replica in the primary's own region protects nothing against losing that region."
  }

  validation {
    condition     = var.secondary == null || try(can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.secondary.region)), true)
    error_message = "secondary.region is an AWS region name such as \"us-west-2\"."
  }

  validation {
    condition     = var.secondary == null || try(length(var.secondary.public_subnet_ids) >= 2 && length(var.secondary.private_subnet_ids) >= 1, true)
    error_message = "The secondary region needs public subnets in at least two availability zones (its ALB) and at least one private subnet (its tasks)."
  }

  validation {
    condition     = var.secondary == null || try(can(regex("^arn:aws[a-z-]*:acm:${var.secondary.region}:", var.secondary.alb_certificate_arn)), true)
    error_message = "secondary.alb_certificate_arn must be an ACM certificate in secondary.region: an ALB only takes certificates from its own region."
  }
}

variable "origin_failover" {
  description = "Put both regions' ALBs in a CloudFront origin group that fails over on connection errors, timeouts and 5xx. null (the default): on exactly when secondary is set."
  type        = bool
  default     = null

  validation {
    condition     = var.origin_failover != true || var.secondary != null
    error_message = "origin_failover needs secondary: a CloudFront origin group needs two origins, and with one region there is only one ALB."
  }
}

variable "failover_requests_threshold" {
  description = "Requests a minute reaching the secondary region (CloudFront failed over to it) that raise the region-failover alarm."
  type        = number
  default     = 10
}

variable "environment" {
  description = "Environment name: dev or prod. Part of every resource name."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment is \"dev\" or \"prod\"."
  }
}

variable "project_name" {
  description = "Prefix of resource names."
  type        = string
  default     = "link-runtime"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.project_name))
    error_message = "project_name is 3-22 lowercase letters, digits and hyphens."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the ALB and the ECS tasks."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the ALB (at least two availability zones)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two availability zones."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the ECS tasks (they reach AWS APIs through NAT or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "At least one private subnet is needed."
  }
}

variable "enable_gateway_endpoints" {
  description = "Create VPC gateway endpoints for DynamoDB and S3 on the private route tables."
  type        = bool
  default     = false
}

variable "private_route_table_ids" {
  description = "Route tables of the private subnets (used when enable_gateway_endpoints is true)."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------
# Domains, certificates, DNS
# ---------------------------------------------------------------------------------------------

variable "domain_names" {
  description = "Short-link domains served by this estate (CloudFront aliases), e.g. [\"go.example.com\"]."
  type        = list(string)

  validation {
    condition     = length(var.domain_names) >= 1
    error_message = "At least one short-link domain is needed."
  }
}

variable "cloudfront_certificate_arn" {
  description = "ACM certificate in us-east-1 covering every domain in domain_names (for CloudFront)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:us-east-1:", var.cloudfront_certificate_arn))
    error_message = "CloudFront only accepts ACM certificates from us-east-1."
  }
}

variable "alb_certificate_arn" {
  description = "ACM certificate in aws_region (the primary; the secondary region's is secondary.alb_certificate_arn) covering every domain in domain_names (for the ALB: CloudFront forwards Host and validates the origin certificate against it)."
  type        = string
}

variable "manage_dns" {
  description = "Create Route 53 alias records for domain_names in the zone parent_domain_name."
  type        = bool
  default     = false
}

variable "parent_domain_name" {
  description = "Route 53 hosted zone holding the short-link domains (used when manage_dns is true)."
  type        = string
  default     = ""
}

variable "cloudfront_price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class is PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

# ---------------------------------------------------------------------------------------------
# The runtime service
# ---------------------------------------------------------------------------------------------

variable "image_tag" {
  description = "Image tag the task definition starts with. deploy.sh registers later revisions with the image it built; Terraform does not roll the service back to this one."
  type        = string
  default     = "bootstrap"
}

variable "ecs_task_cpu" {
  description = "Task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "ecs_task_memory" {
  description = "Task memory, MiB."
  type        = number
  default     = 1024
}

variable "web_concurrency" {
  description = "gunicorn workers per task (WEB_CONCURRENCY)."
  type        = number
  default     = 2
}

variable "ecs_desired_count" {
  description = "Task count when the service is created (autoscaling owns it afterwards)."
  type        = number
  default     = 2
}

variable "ecs_min_capacity" {
  description = "Autoscaling minimum task count."
  type        = number
  default     = 2
}

variable "ecs_max_capacity" {
  description = "Autoscaling maximum task count."
  type        = number
  default     = 20
}

variable "cpu_target_percent" {
  description = "Target average CPU utilisation for autoscaling."
  type        = number
  default     = 60
}

variable "requests_per_target" {
  description = "Target ALB requests per task per minute for autoscaling."
  type        = number
  default     = 3000
}

variable "default_fallback_url" {
  description = "Where the runtime sends visitors when a link is unknown or nothing else applies."
  type        = string
}

variable "log_level" {
  description = "Runtime log level."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level is DEBUG, INFO, WARNING or ERROR."
  }
}

variable "runtime_environment_overrides" {
  description = "Extra or overriding plain environment variables for the runtime container (tuning settings such as cache sizes). Never secrets: those go through Secrets Manager."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for name in keys(var.runtime_environment_overrides) :
      !contains(["ORIGIN_VERIFY_SECRET", "IP_HASH_KEY"], name)
    ])
    error_message = "Secrets are injected from Secrets Manager, never as plain environment variables."
  }

  # Terraform sets DYNAMODB_FALLBACK_REGION on each region's runtime to the other region, which
  # holds the other replica. The overrides apply to every region, so the only value they may
  # give it is "" (no fallback read); a region without a replica would turn every fallback read
  # into an error, and a region with one would make one of the runtimes fall back to itself.
  validation {
    condition = !contains(keys(var.runtime_environment_overrides), "DYNAMODB_FALLBACK_REGION") || contains(
      concat([""], [var.aws_region], var.secondary == null ? [] : [var.secondary.region]),
      lookup(var.runtime_environment_overrides, "DYNAMODB_FALLBACK_REGION", "")
    )
    error_message = "DYNAMODB_FALLBACK_REGION = \"${lookup(var.runtime_environment_overrides, "DYNAMODB_FALLBACK_REGION", "")}\" names a region without a replica of the runtime table (replicas: ${join(", ", concat([var.aws_region], var.secondary == null ? [] : [var.secondary.region]))}). Add that region as secondary, or leave the variable out: Terraform sets it on each region's runtime to the other region."
  }

  validation {
    condition     = lookup(var.runtime_environment_overrides, "DYNAMODB_FALLBACK_REGION", "") == ""
    error_message = "DYNAMODB_FALLBACK_REGION is set by Terraform on each region's runtime to the other region; an override applies to both runtimes and would make one of them fall back to its own replica. Leave it out, or give \"\" to turn the fallback read off."
  }
}

variable "signing_secret_prefix" {
  description = "Name prefix of the Secrets Manager secrets holding link-signing keyrings. The runtime may read any secret under it; the control plane signs with the same secrets."
  type        = string
  default     = "link-signatures/"

  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]+/$", var.signing_secret_prefix))
    error_message = "signing_secret_prefix is a secret-name prefix ending in \"/\"."
  }
}

variable "signing_key_names" {
  description = "Signing keyrings to create under signing_secret_prefix (a link's signature_key_id names one of them)."
  type        = list(string)
  default     = ["default"]
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------------------------
# Data: DynamoDB, click events
# ---------------------------------------------------------------------------------------------

variable "deletion_protection" {
  description = "Protect the DynamoDB table and the ALB from deletion (true in prod)."
  type        = bool
  default     = true
}

variable "firehose_buffer_size_mb" {
  description = "Firehose buffer size, MiB. Parquet conversion needs at least 64."
  type        = number
  default     = 128

  validation {
    condition     = var.firehose_buffer_size_mb >= 64 && var.firehose_buffer_size_mb <= 128
    error_message = "With format conversion, Firehose buffers 64 to 128 MiB."
  }
}

variable "firehose_buffer_interval_seconds" {
  description = "Firehose buffer interval, seconds (whichever of size or interval comes first flushes)."
  type        = number
  default     = 300

  validation {
    condition     = var.firehose_buffer_interval_seconds >= 60 && var.firehose_buffer_interval_seconds <= 900
    error_message = "Firehose buffers 60 to 900 seconds."
  }
}

variable "click_events_transition_days" {
  description = "Days before click-event objects move to Glacier Instant Retrieval."
  type        = number
  default     = 90
}

variable "click_events_expiration_days" {
  description = "Days before click-event objects are deleted."
  type        = number
  default     = 730
}

variable "log_retention_days" {
  description = "Retention of CloudWatch log groups, days."
  type        = number
  default     = 365
}

variable "access_log_retention_days" {
  description = "Retention of ALB, CloudFront and S3 access logs in the logs bucket, days. They hold visitors' IP addresses, user agents and full query strings (sms_msg_id, sig): keep it short (docs/PRIVACY.md)."
  type        = number
  default     = 14

  validation {
    condition     = var.access_log_retention_days >= 1 && var.access_log_retention_days <= 400
    error_message = "Access logs are kept 1 to 400 days."
  }
}

variable "waf_log_retention_days" {
  description = "Retention of the WAF log group (blocked and counted requests, with the client IP and the URI; query string and identifying headers redacted), days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365], var.waf_log_retention_days)
    error_message = "A CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180 or 365."
  }
}

# ---------------------------------------------------------------------------------------------
# Edge protection
# ---------------------------------------------------------------------------------------------

variable "waf_rate_limit_per_ip" {
  description = "Requests per IP per 5 minutes before WAF blocks it (mobile carriers NAT many phones behind one IP: keep it generous)."
  type        = number
  default     = 3000
}

# ---------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------

variable "alert_email" {
  description = "E-mail address subscribed to the alerts topic (empty: no subscription)."
  type        = string
  default     = ""
}

variable "error_rate_threshold_percent" {
  description = "5xx responses as a percentage of requests that raise the high-error-rate alarm."
  type        = number
  default     = 1
}

variable "latency_p99_threshold_seconds" {
  description = "p99 target response time that raises the high-latency alarm."
  type        = number
  default     = 0.3
}

variable "firehose_freshness_threshold_seconds" {
  description = "Age of the oldest undelivered click event that raises the Firehose delivery-lag alarm."
  type        = number
  default     = 900
}

variable "control_plane_metrics_namespace" {
  description = "CloudWatch namespace where the control plane publishes its outbox metrics."
  type        = string
  default     = "LinkTracking/ControlPlane"
}

variable "outbox_oldest_pending_threshold_seconds" {
  description = "Age of the oldest PENDING publish-outbox row that raises the outbox-backlog alarm."
  type        = number
  default     = 900
}

variable "click_ingest_visibility_timeout_seconds" {
  description = "How long a click-object notification stays invisible while a worker ingests its object (longer than one ingestion of the largest object)."
  type        = number
  default     = 900

  validation {
    condition     = var.click_ingest_visibility_timeout_seconds >= 60 && var.click_ingest_visibility_timeout_seconds <= 43200
    error_message = "SQS visibility timeouts are 0 to 43200 seconds; give ingestion at least a minute."
  }
}

variable "click_ingest_max_receive_count" {
  description = "Failed ingestions of one click-event object before its notification goes to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.click_ingest_max_receive_count >= 1 && var.click_ingest_max_receive_count <= 1000
    error_message = "maxReceiveCount is 1 to 1000."
  }
}

variable "click_ingest_max_age_seconds" {
  description = "Alarm when the oldest un-ingested click-event object is older than this (seconds)."
  type        = number
  default     = 1800
}
