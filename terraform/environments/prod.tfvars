# terraform plan -var-file=environments/prod.tfvars  (after init with prod.s3.tfbackend)
environment = "prod"
aws_region  = "us-east-1"

vpc_id             = "vpc-0fedcba9876543210"
public_subnet_ids  = ["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2", "subnet-0ccccccccccccccc3"]
private_subnet_ids = ["subnet-0ddddddddddddddd1", "subnet-0ddddddddddddddd2", "subnet-0ddddddddddddddd3"]

enable_gateway_endpoints = true
private_route_table_ids  = ["rtb-0eeeeeeeeeeeeeee1", "rtb-0eeeeeeeeeeeeeee2", "rtb-0eeeeeeeeeeeeeee3"]

domain_names               = ["go.example.com"]
cloudfront_certificate_arn = "arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-0000-0000-000000000002"
alb_certificate_arn        = "arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-0000-0000-000000000002"
manage_dns                 = true
parent_domain_name         = "example.com"

default_fallback_url = "https://www.example.com/"
alert_email          = "oncall@example.com"

ecs_desired_count   = 2
ecs_min_capacity    = 2
ecs_max_capacity    = 20
deletion_protection = true
log_retention_days  = 365

firehose_buffer_size_mb          = 128
firehose_buffer_interval_seconds = 300
