# `terraform test` with a mocked AWS provider: no credentials, no API calls. It evaluates every
# expression of the module (what static parsing cannot), with an environment's var file:
#   terraform test -filter=tests/estate.tftest.hcl -var-file=environments/prod.tfvars
# tests/terraform/test_terraform_cli.py runs it for dev and prod when Terraform and the AWS
# provider are available locally.

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "secondary"
  source = "./tests/mocks"
}

run "renders_the_estate" {
  command = apply

  override_resource {
    target = aws_secretsmanager_secret.ip_hash_key
    values = { arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ip-hash-key-AbCdEf" }
  }

  override_resource {
    target = aws_secretsmanager_secret.origin_verify
    values = { arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:origin-verify-AbCdEf" }
  }

  assert {
    condition = tolist([
      for variable in jsondecode(module.primary.container_definitions)[0].environment : variable.name
    ]) == sort(keys(module.primary.runtime_environment))
    error_message = "The container's environment is not the runtime_environment map."
  }

  assert {
    condition = jsonencode(jsondecode(module.primary.container_definitions)[0].secrets) == jsonencode([
      { name = "IP_HASH_KEY", valueFrom = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ip-hash-key-AbCdEf" },
      { name = "ORIGIN_VERIFY_SECRET", valueFrom = "arn:aws:secretsmanager:us-east-1:111111111111:secret:origin-verify-AbCdEf" },
    ])
    error_message = "Secrets must be injected from Secrets Manager by ARN."
  }

  assert {
    condition = alltrue([
      for variable in jsondecode(module.primary.container_definitions)[0].environment :
      !contains(local.origin_verify_values, variable.value)
    ])
    error_message = "A secret value leaked into the plain environment."
  }

  assert {
    condition     = module.primary.runtime_environment["ENVIRONMENT"] == (var.environment == "prod" ? "production" : "staging")
    error_message = "ENVIRONMENT must be production in prod and staging elsewhere, never development."
  }

  assert {
    condition     = one(aws_cloudfront_distribution.runtime.origin).custom_header == toset([{ name = "X-Origin-Verify", value = "currentvalue0123456789abcdef" }])
    error_message = "CloudFront must send the first origin-verify value."
  }

  assert {
    condition     = nonsensitive(module.primary.alb_accepted_origin_verify_values) == toset(["currentvalue0123456789abcdef", "previousvalue0123456789abcdef"])
    error_message = "The ALB must accept every origin-verify value during a rotation."
  }

  assert {
    condition     = aws_cloudfront_distribution.runtime.web_acl_id == aws_wafv2_web_acl.cloudfront.arn
    error_message = "The CLOUDFRONT web ACL is attached by web_acl_id."
  }

  assert {
    condition     = module.primary.firehose_buffering_size >= 64
    error_message = "Parquet conversion needs a buffer of at least 64 MiB."
  }

  assert {
    condition     = module.primary.dashboard_widget_counts.rendered == module.primary.dashboard_widget_counts.declared
    error_message = "The dashboard body must render every widget."
  }

  assert {
    condition     = aws_dynamodb_table.link_runtime.deletion_protection_enabled == (var.environment == "prod")
    error_message = "The table is protected from deletion in prod only."
  }

  # One region (var.secondary unset) is the estate it was before regions: no replica, no stream,
  # one origin and no origin group, no fallback region for the runtime, no secondary estate.
  assert {
    condition     = length(aws_dynamodb_table.link_runtime.replica) == 0 && !coalesce(aws_dynamodb_table.link_runtime.stream_enabled, false)
    error_message = "A one-region table has no replica and no stream."
  }

  assert {
    condition     = length(aws_cloudfront_distribution.runtime.origin_group) == 0 && one(aws_cloudfront_distribution.runtime.default_cache_behavior).target_origin_id == "alb"
    error_message = "A one-region distribution sends redirects to its one ALB, with no origin group."
  }

  assert {
    condition     = one(one(aws_cloudfront_distribution.runtime.origin).custom_origin_config).origin_read_timeout == 10 && one(aws_cloudfront_distribution.runtime.origin).connection_attempts != 1
    error_message = "A one-region origin keeps its timeouts (read 10 s, CloudFront's default connection attempts)."
  }

  assert {
    condition     = !contains(keys(module.primary.runtime_environment), "DYNAMODB_FALLBACK_REGION") && length(module.secondary) == 0
    error_message = "A one-region estate has no fallback region and no secondary estate."
  }

  assert {
    condition     = length(aws_route53_health_check.region) == 0 && length(aws_sns_topic.edge_alerts) == 0 && length(aws_ecr_replication_configuration.runtime) == 0
    error_message = "A one-region estate has none of the cross-region resources."
  }
}
