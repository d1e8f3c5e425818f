# terraform plan -var-file=environments/dev.tfvars  (after init with dev.s3.tfbackend)
environment = "dev"
aws_region  = "us-east-1"

vpc_id             = "vpc-0123456789abcdef0"
public_subnet_ids  = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
private_subnet_ids = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]

domain_names               = ["go-dev.example.com"]
cloudfront_certificate_arn = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000001"
alb_certificate_arn        = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000001"
manage_dns                 = false
parent_domain_name         = ""

default_fallback_url = "https://www.example.com/"
alert_email          = ""

# Small and disposable.
ecs_desired_count   = 1
ecs_min_capacity    = 1
ecs_max_capacity    = 2
deletion_protection = false
log_retention_days  = 30
log_level           = "DEBUG"

secret_recovery_window_days  = 7
click_events_expiration_days = 30
click_events_transition_days = 14
