resource "aws_lb" "runtime" {
  #checkov:skip=CKV2_AWS_28:The WAF is on CloudFront (scope CLOUDFRONT); the ALB accepts only CloudFront's addresses and forwards only requests carrying the origin-verify secret, so nothing reaches it around the WAF.
  # ALB names are at most 32 characters: the secondary's "-2" can take the longest project
  # names over (a cut name stays unique: the region's suffix comes before the cut).
  name               = substr("${local.name}-alb", 0, 32)
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.public_subnet_ids

  enable_deletion_protection = var.deletion_protection
  enable_http2               = true
  drop_invalid_header_fields = true
  idle_timeout               = 30

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "runtime" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; tasks sit in private subnets and accept traffic from the ALB's security group only.
  name        = "${local.name}-tg"
  port        = local.container_port
  protocol    = "HTTP"
  vpc_id      = var.vpc_id
  target_type = "ip"

  health_check {
    enabled             = true
    path                = "/health"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  # Short: a redirect is a few milliseconds, and deployments should not wait on idle connections.
  deregistration_delay = 30
}

# Plain HTTP is never served: it answers with a redirect to HTTPS. (CloudFront reaches the ALB
# over HTTPS only, and the security group admits only 443; the listener makes sure that opening
# port 80 later could never serve redirects in clear text.)
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.runtime.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.runtime.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.alb_certificate_arn

  # Anything that did not come through CloudFront (no origin-verify header) is refused here.
  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Forbidden"
      status_code  = "403"
    }
  }
}

resource "aws_lb_listener_rule" "from_cloudfront" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 1

  condition {
    http_header {
      http_header_name = var.origin_verify_header
      values           = var.origin_verify_values
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.runtime.arn
  }
}
