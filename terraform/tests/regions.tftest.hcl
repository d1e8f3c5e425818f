# The estate in two regions: the primary (aws_region) and var.secondary, with a mocked AWS
# provider per region. Run with either environment's var file:
#   terraform test -filter=tests/regions.tftest.hcl -var-file=environments/prod.tfvars
# tests/terraform/test_terraform_cli.py runs it.

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

variables {
  aws_region = "us-east-1"

  secondary = {
    region                  = "us-west-2"
    vpc_id                  = "vpc-0aaaaaaaaaaaaaaa2"
    public_subnet_ids       = ["subnet-0eeeeeeeeeeeeeee1", "subnet-0eeeeeeeeeeeeeee2"]
    private_subnet_ids      = ["subnet-0fffffffffffffff1", "subnet-0fffffffffffffff2"]
    private_route_table_ids = ["rtb-0fffffffffffffff1"]
    alb_certificate_arn     = "arn:aws:acm:us-west-2:111111111111:certificate/00000000-0000-0000-0000-000000000003"
  }
}

run "renders_two_regions" {
  command = apply

  override_resource {
    target = aws_secretsmanager_secret.ip_hash_key
    values = { arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ip-hash-key-AbCdEf" }
  }

  override_resource {
    target = aws_secretsmanager_secret.origin_verify
    values = { arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:origin-verify-AbCdEf" }
  }

  override_resource {
    target = module.secondary[0].aws_kms_key.main
    values = { arn = "arn:aws:kms:us-west-2:111111111111:key/secondary" }
  }

  override_resource {
    target = module.secondary[0].aws_lb.runtime
    values = {
      arn        = "arn:aws:elasticloadbalancing:us-west-2:111111111111:loadbalancer/app/secondary/2"
      arn_suffix = "app/secondary/2"
      dns_name   = "secondary.us-west-2.elb.amazonaws.com"
    }
  }

  # --- The runtime table: a global table with one replica, in the secondary region ----------

  assert {
    condition     = length(aws_dynamodb_table.link_runtime.replica) == 1
    error_message = "The runtime table has one replica besides the primary."
  }

  assert {
    condition     = one(aws_dynamodb_table.link_runtime.replica).region_name == "us-west-2"
    error_message = "The replica is in the secondary region."
  }

  assert {
    condition     = one(aws_dynamodb_table.link_runtime.replica).kms_key_arn == "arn:aws:kms:us-west-2:111111111111:key/secondary"
    error_message = "The replica is encrypted with the secondary region's key."
  }

  assert {
    condition     = one(aws_dynamodb_table.link_runtime.replica).point_in_time_recovery
    error_message = "The replica is recoverable to a point in time, as the primary is."
  }

  assert {
    condition     = aws_dynamodb_table.link_runtime.stream_enabled && aws_dynamodb_table.link_runtime.stream_view_type == "NEW_AND_OLD_IMAGES"
    error_message = "A global table replicates through its stream of new and old images."
  }

  # --- CloudFront: both regions' ALBs in one origin group, failing over on 5xx --------------

  assert {
    condition     = toset([for origin in aws_cloudfront_distribution.runtime.origin : origin.domain_name]) == toset(["mock.elb.amazonaws.com", "secondary.us-west-2.elb.amazonaws.com"])
    error_message = "The distribution has one origin per region's ALB."
  }

  assert {
    condition     = length(aws_cloudfront_distribution.runtime.origin_group) == 1
    error_message = "The distribution has one origin group."
  }

  assert {
    condition     = [for member in one(aws_cloudfront_distribution.runtime.origin_group).member : member.origin_id] == ["alb", "alb-secondary"]
    error_message = "The origin group is the primary region's ALB, then the secondary's."
  }

  assert {
    condition     = one(one(aws_cloudfront_distribution.runtime.origin_group).failover_criteria).status_codes == toset([500, 502, 503, 504])
    error_message = "The origin group fails over on 500, 502, 503 and 504."
  }

  assert {
    condition     = one(aws_cloudfront_distribution.runtime.default_cache_behavior).target_origin_id == one(aws_cloudfront_distribution.runtime.origin_group).origin_id
    error_message = "Redirects go to the origin group, not to one region."
  }

  assert {
    condition = alltrue([
      for origin in aws_cloudfront_distribution.runtime.origin :
      origin.connection_attempts == 1 && origin.connection_timeout == 1 && one(origin.custom_origin_config).origin_read_timeout == 1
      if origin.origin_id == "alb"
    ])
    error_message = "The primary origin gives up after one attempt and 1 s (connect or read): a failed-over click costs at most about 1 s."
  }

  assert {
    condition     = alltrue([for origin in aws_cloudfront_distribution.runtime.origin : one(origin.custom_header).value == "currentvalue0123456789abcdef"])
    error_message = "CloudFront sends the origin-verify value to both regions."
  }

  # --- Every per-region resource, once in each region ----------------------------------------

  assert {
    condition     = keys(module.primary.regional_resources) == keys(module.secondary[0].regional_resources)
    error_message = "Both regions have the same kinds of per-region resources."
  }

  assert {
    condition     = length(module.primary.regional_resources) >= 15 && alltrue([for id in concat(values(module.primary.regional_resources), values(module.secondary[0].regional_resources)) : id != null && id != ""])
    error_message = "Every per-region resource exists in both regions."
  }

  assert {
    condition = length(distinct([
      module.primary.firehose_stream_name, module.secondary[0].firehose_stream_name,
    ])) == 2 && length(distinct([module.primary.click_events_bucket, module.secondary[0].click_events_bucket])) == 2
    error_message = "Each region has its own Firehose and its own click-events bucket."
  }

  assert {
    condition     = module.primary.click_objects_queue_url != module.secondary[0].click_objects_queue_url
    error_message = "Each region has its own ingest queue."
  }

  assert {
    condition     = module.secondary[0].region == "us-west-2" && module.primary.region == "us-east-1"
    error_message = "The modules are instantiated for the primary and the secondary region."
  }

  # --- The runtime in each region reads the other's replica when its own fails ---------------

  assert {
    condition     = module.primary.runtime_environment["AWS_REGION"] == "us-east-1" && module.primary.runtime_environment["DYNAMODB_FALLBACK_REGION"] == "us-west-2"
    error_message = "The primary's runtime falls back to the secondary's replica."
  }

  assert {
    condition     = module.secondary[0].runtime_environment["AWS_REGION"] == "us-west-2" && module.secondary[0].runtime_environment["DYNAMODB_FALLBACK_REGION"] == "us-east-1"
    error_message = "The secondary's runtime falls back to the primary's replica."
  }

  assert {
    condition = jsonencode(jsondecode(module.secondary[0].container_definitions)[0].secrets) == jsonencode([
      { name = "IP_HASH_KEY", valueFrom = "arn:aws:secretsmanager:us-west-2:111111111111:secret:ip-hash-key-AbCdEf" },
      { name = "ORIGIN_VERIFY_SECRET", valueFrom = "arn:aws:secretsmanager:us-west-2:111111111111:secret:origin-verify-AbCdEf" },
    ])
    error_message = "The secondary's tasks read the secondary region's secret replicas."
  }

  # --- Secrets replicated, encrypted with the secondary's key --------------------------------

  assert {
    condition = alltrue([
      for secret in concat([aws_secretsmanager_secret.origin_verify, aws_secretsmanager_secret.ip_hash_key], values(aws_secretsmanager_secret.signing)) :
      length(secret.replica) == 1 && one(secret.replica).region == "us-west-2" && one(secret.replica).kms_key_id == "arn:aws:kms:us-west-2:111111111111:key/secondary"
    ])
    error_message = "Every secret has a replica in the secondary region, under its key."
  }

  # --- Click events: each region's bucket, one table reading both ----------------------------

  assert {
    condition = alltrue([
      for parameters in [module.primary.glue_click_events_parameters, module.secondary[0].glue_click_events_parameters] :
      parameters["projection.click_events_bucket.type"] == "enum" &&
      toset(split(",", parameters["projection.click_events_bucket.values"])) == toset(["link-runtime-${var.environment}-click-events-111111111111", "link-runtime-${var.environment}-2-click-events-111111111111"]) &&
      parameters["storage.location.template"] == "s3://$${click_events_bucket}/click-events/$${datehour}/"
    ])
    error_message = "Each region's Glue table reads both regions' buckets through the projected click_events_bucket column."
  }

  # --- Images and alarms ---------------------------------------------------------------------

  assert {
    condition     = one(one(one(aws_ecr_replication_configuration.runtime).replication_configuration).rule).destination[0].region == "us-west-2"
    error_message = "Images pushed to the primary's repository are replicated to the secondary region."
  }

  assert {
    condition     = length(module.secondary[0].region_failover_alarm_names) == 1 && length(module.primary.region_failover_alarm_names) == 0
    error_message = "Traffic failing over to the secondary region raises an alarm there."
  }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.region_unhealthy) == ["us-east-1", "us-west-2"] && alltrue([for check in aws_route53_health_check.region : check.insufficient_data_health_status == "Unhealthy"])
    error_message = "Each region is watched from us-east-1, and a region whose CloudWatch cannot be read counts as down."
  }
}

# --- Refused at plan time ---------------------------------------------------------------------

run "refuses_a_replica_in_the_primary_region" {
  command = plan

  variables {
    secondary = {
      region              = "us-east-1"
      vpc_id              = "vpc-0aaaaaaaaaaaaaaa2"
      public_subnet_ids   = ["subnet-0eeeeeeeeeeeeeee1", "subnet-0eeeeeeeeeeeeeee2"]
      private_subnet_ids  = ["subnet-0fffffffffffffff1"]
      alb_certificate_arn = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000003"
    }
  }

  expect_failures = [var.secondary]
}

run "refuses_a_fallback_region_without_a_replica" {
  command = plan

  variables {
    runtime_environment_overrides = { DYNAMODB_FALLBACK_REGION = "eu-west-1" }
  }

  expect_failures = [var.runtime_environment_overrides]
}

run "refuses_a_fallback_region_in_a_one_region_estate" {
  command = plan

  variables {
    secondary                     = null
    runtime_environment_overrides = { DYNAMODB_FALLBACK_REGION = "us-west-2" }
  }

  expect_failures = [var.runtime_environment_overrides]
}

run "refuses_an_origin_group_of_one_origin" {
  command = plan

  variables {
    secondary       = null
    origin_failover = true
  }

  expect_failures = [var.origin_failover]
}

# The overrides reach both regions' runtimes: a replica region would make one of them fall back
# to its own replica.
run "refuses_a_fallback_to_the_runtimes_own_region" {
  command = plan

  variables {
    runtime_environment_overrides = { DYNAMODB_FALLBACK_REGION = "us-east-1" }
  }

  expect_failures = [var.runtime_environment_overrides]
}
