resource "aws_ecs_cluster" "runtime" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "runtime" {
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

locals {
  # Where the runtime journals click events Firehose did not take (replayed by the same task).
  # The root file system is read-only; this path and /tmp are task-local volumes.
  spool_path = "/var/spool/link-runtime"

  # The runtime's Embedded Metric Format namespace; per environment, so that dev and prod
  # sharing an account do not add up.
  metrics_namespace = "LinkRuntime/${var.environment}"
  # The dimension the runtime puts on every metric (runtime_service.metrics.Metrics).
  metrics_service = "link-runtime"

  # The runtime's settings (runtime_service.config.SETTINGS): the required ones, and those whose
  # default is wrong behind CloudFront and the ALB. Tuning settings keep their documented
  # defaults unless runtime_environment_overrides sets them. tests/terraform checks these names
  # against SETTINGS.
  runtime_environment_base = {
    ENVIRONMENT          = var.environment == "prod" ? "production" : "staging"
    AWS_REGION           = var.aws_region
    DYNAMODB_TABLE_NAME  = var.table_name
    FIREHOSE_STREAM_NAME = aws_kinesis_firehose_delivery_stream.click_events.name
    DEFAULT_FALLBACK_URL = var.default_fallback_url
    # The only secrets the runtime reads as signing keyrings (IAM allows no others either).
    SIGNING_KEYRING_PREFIX = var.signing_secret_prefix
    ORIGIN_VERIFY_HEADER   = lower(var.origin_verify_header)
    # CloudFront appends the viewer's address to X-Forwarded-For, then the ALB appends
    # CloudFront's: the visitor is two entries from the right.
    TRUSTED_PROXY_COUNT = 2
    EVENT_JOURNAL_DIR   = "${local.spool_path}/event-journal"
    METRICS_NAMESPACE   = local.metrics_namespace
    LOG_LEVEL           = var.log_level
    # Read by the image's gunicorn command line, not by the runtime's settings.
    WEB_CONCURRENCY = var.web_concurrency
  }

  # In an estate of two regions, the runtime reads the other region's replica when its own
  # region's read fails or misses its deadline. Absent in a one-region estate.
  runtime_environment_regions = var.fallback_region == "" ? {} : {
    DYNAMODB_FALLBACK_REGION = var.fallback_region
  }

  runtime_environment = merge(local.runtime_environment_base, local.runtime_environment_regions, var.runtime_environment_overrides)

  # What the runtime will read as its fallback region (the overrides may name it): checked
  # against the regions holding a replica by the task definition's precondition.
  runtime_fallback_region = lookup(local.runtime_environment, "DYNAMODB_FALLBACK_REGION", "")

  # Secret settings come from Secrets Manager through the task's `secrets` (the process still
  # sees environment variables, but the task definition never holds the values).
  runtime_secrets = {
    ORIGIN_VERIFY_SECRET = var.origin_verify_secret_arn
    IP_HASH_KEY          = var.ip_hash_key_secret_arn
  }

  runtime_container = {
    name                   = local.container_name
    image                  = "${aws_ecr_repository.runtime.repository_url}:${var.image_tag}"
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    stopTimeout            = 30

    portMappings = [
      {
        containerPort = local.container_port
        protocol      = "tcp"
      }
    ]

    environment = [
      for name in sort(keys(local.runtime_environment)) :
      { name = name, value = tostring(local.runtime_environment[name]) }
    ]

    secrets = [
      for name in sort(keys(local.runtime_secrets)) :
      { name = name, valueFrom = local.runtime_secrets[name] }
    ]

    mountPoints = [
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      { sourceVolume = "spool", containerPath = local.spool_path, readOnly = false },
    ]

    ulimits = [
      { name = "nofile", softLimit = 65536, hardLimit = 65536 }
    ]

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.runtime.name
        "awslogs-region"        = var.aws_region
        "awslogs-stream-prefix" = "runtime"
      }
    }

    # The image has no curl; Python is there. /health is exempt from the origin check.
    healthCheck = {
      command = [
        "CMD",
        "python",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.container_port}/health', timeout=3)",
      ]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
  }
}

resource "aws_ecs_task_definition" "runtime" {
  family                   = local.name
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = var.ecs_task_cpu
  memory                   = var.ecs_task_memory
  execution_role_arn       = aws_iam_role.ecs_execution.arn
  task_role_arn            = aws_iam_role.ecs_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  volume {
    name = "spool"
  }

  container_definitions = jsonencode([local.runtime_container])

  lifecycle {
    precondition {
      condition     = local.runtime_fallback_region == "" || (local.runtime_fallback_region != var.aws_region && contains(var.replica_regions, local.runtime_fallback_region))
      error_message = "DYNAMODB_FALLBACK_REGION of the runtime in ${var.aws_region} is \"${local.runtime_fallback_region}\", which holds no replica of the runtime table (replicas: ${join(", ", var.replica_regions)}): name another region that has one, or leave it unset."
    }
  }
}

resource "aws_ecs_service" "runtime" {
  name             = local.name
  cluster          = aws_ecs_cluster.runtime.id
  task_definition  = aws_ecs_task_definition.runtime.arn
  desired_count    = var.ecs_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  enable_execute_command             = false
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  # A deployment whose tasks do not become healthy is stopped and the previous one restored.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.ecs_tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.runtime.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  # Autoscaling owns the task count, and deploy.sh owns which revision runs: it registers a
  # revision of this family with the image it built. Terraform's own revision changes (new
  # settings) reach the service with the next deploy.
  lifecycle {
    ignore_changes = [desired_count, task_definition]
  }

  depends_on = [aws_lb_listener_rule.from_cloudfront]
}

# --- Autoscaling: on CPU and on requests per task ---------------------------------------------

resource "aws_appautoscaling_target" "runtime" {
  min_capacity       = var.ecs_min_capacity
  max_capacity       = var.ecs_max_capacity
  resource_id        = "service/${aws_ecs_cluster.runtime.name}/${aws_ecs_service.runtime.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  service_namespace  = "ecs"
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${local.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  resource_id        = aws_appautoscaling_target.runtime.resource_id
  scalable_dimension = aws_appautoscaling_target.runtime.scalable_dimension
  service_namespace  = aws_appautoscaling_target.runtime.service_namespace

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }

    target_value       = var.cpu_target_percent
    scale_out_cooldown = 60
    scale_in_cooldown  = 300
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${local.name}-requests"
  policy_type        = "TargetTrackingScaling"
  resource_id        = aws_appautoscaling_target.runtime.resource_id
  scalable_dimension = aws_appautoscaling_target.runtime.scalable_dimension
  service_namespace  = aws_appautoscaling_target.runtime.service_namespace

  target_tracking_scaling_policy_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.runtime.arn_suffix}/${aws_lb_target_group.runtime.arn_suffix}"
    }

    target_value       = var.requests_per_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300
  }
}
