# Only CloudFront reaches the ALB (AWS-managed prefix list of CloudFront's origin-facing
# addresses), and only the ALB reaches the tasks.
data "aws_ec2_managed_prefix_list" "cloudfront_origin_facing" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "alb" {
  name_prefix = "${local.name}-alb-"
  description = "ALB of ${local.name}: HTTPS from CloudFront only"
  vpc_id      = var.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

# One rule only: the CloudFront prefix list counts as ~55 rules against the security group quota.
resource "aws_vpc_security_group_ingress_rule" "alb_https_from_cloudfront" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from CloudFront origin-facing addresses"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront_origin_facing.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the runtime tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.ecs_tasks.id
}

resource "aws_security_group" "ecs_tasks" {
  name_prefix = "${local.name}-tasks-"
  description = "Runtime tasks of ${local.name}: HTTP from the ALB, HTTPS out to AWS APIs"
  vpc_id      = var.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.ecs_tasks.id
  description                  = "From the ALB"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

# DynamoDB, Firehose, Secrets Manager, ECR and CloudWatch Logs are HTTPS APIs (through NAT, or
# the gateway endpoints below for DynamoDB and S3).
resource "aws_vpc_security_group_egress_rule" "tasks_https_out" {
  security_group_id = aws_security_group.ecs_tasks.id
  description       = "HTTPS to AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Optional gateway endpoints: DynamoDB reads and ECR layer pulls (S3) stay off the NAT ------

resource "aws_vpc_endpoint" "dynamodb" {
  count = var.enable_gateway_endpoints ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${var.aws_region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.private_route_table_ids

  lifecycle {
    precondition {
      condition     = length(var.private_route_table_ids) > 0
      error_message = "enable_gateway_endpoints needs private_route_table_ids."
    }
  }
}

resource "aws_vpc_endpoint" "s3" {
  count = var.enable_gateway_endpoints ? 1 : 0

  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${var.aws_region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.private_route_table_ids

  lifecycle {
    precondition {
      condition     = length(var.private_route_table_ids) > 0
      error_message = "enable_gateway_endpoints needs private_route_table_ids."
    }
  }
}
