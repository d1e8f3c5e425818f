locals {
  name = "${var.project_name}-${var.environment}"

  tags = merge(var.tags, {
    Project     = "link-tracking"
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # CloudFront adds this header to every origin request; the ALB forwards only requests that
  # carry it and the runtime checks it again (ORIGIN_VERIFY_SECRET), so nobody can reach the
  # runtime around the WAF by calling the ALB directly.
  origin_verify_header = "X-Origin-Verify"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
