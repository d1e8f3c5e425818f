# The runtime estate of one region: the ALB and the ECS service, the click-event delivery stream,
# its bucket and ingest queue, the region's key, logs, alarms and dashboard. The root module
# instantiates it once for the primary region and, when `secondary` is set, once more for the
# secondary region; what is global or replicated (CloudFront, WAF, the runtime table, secrets)
# stays in the root module and reaches this one through its variables.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

locals {
  name = var.name

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The runtime container: its name and port are referenced by the service, the target group
  # and deploy.sh.
  container_name = "runtime"
  container_port = 8000

  # This region's replica of the runtime table (a global table replica has the table's name).
  table_arn = "arn:${local.partition}:dynamodb:${var.aws_region}:${local.account_id}:table/${var.table_name}"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
