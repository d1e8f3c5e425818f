# Redirects are never served from the edge: each one is a click to count, with its own click_id
# (the runtime also answers "Cache-Control: private, no-store"). CloudFront does not allow a
# cache policy whose TTLs are all 0 to put headers or query strings in the cache key, so the
# policy caches nothing and the origin request policy forwards what the runtime needs: the Host
# (which short-link domain), the whole query string (signatures, sms_msg_id, forwarded params),
# the viewer's country for geo routing, and what bot detection and click events read.
resource "aws_cloudfront_cache_policy" "redirects" {
  name        = "${local.name}-redirects-no-cache"
  comment     = "Tracked redirects: never cached at the edge"
  min_ttl     = 0
  default_ttl = 0
  max_ttl     = 0

  parameters_in_cache_key_and_forwarded_to_origin {
    cookies_config {
      cookie_behavior = "none"
    }

    headers_config {
      header_behavior = "none"
    }

    query_strings_config {
      query_string_behavior = "none"
    }

    enable_accept_encoding_brotli = false
    enable_accept_encoding_gzip   = false
  }
}

resource "aws_cloudfront_origin_request_policy" "redirects" {
  name    = "${local.name}-redirects"
  comment = "Host, all query strings and the viewer headers the runtime reads"

  cookies_config {
    cookie_behavior = "none"
  }

  headers_config {
    header_behavior = "whitelist"

    headers {
      items = [
        "Host",
        "User-Agent",
        "Referer",
        "Accept-Language",
        "CloudFront-Viewer-Country",
      ]
    }
  }

  query_strings_config {
    query_string_behavior = "all"
  }
}

resource "aws_cloudfront_response_headers_policy" "security" {
  name    = "${local.name}-security-headers"
  comment = "Security headers on every response"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }
  }
}

resource "aws_cloudfront_distribution" "runtime" {
  #checkov:skip=CKV_AWS_310:One origin by design: the ALB spreads requests over tasks in several availability zones; a failover origin would have to be a second runtime estate.
  #checkov:skip=CKV_AWS_374:Short links are sent to recipients worldwide; blocking countries is a campaign decision, not an infrastructure default.
  #checkov:skip=CKV2_AWS_46:The only S3 bucket connected to the distribution is its access-log target; the origin is the ALB, so there is no S3 origin to protect with origin access control.
  #checkov:skip=CKV2_AWS_47:Log4j is covered by AWSManagedRulesKnownBadInputsRuleSet (attached); AWSManagedRulesAnonymousIpList is left out on purpose because it would refuse recipients who click from VPNs and privacy relays.
  #checkov:skip=CKV_AWS_305:There is no root document: "/" goes to the runtime, which redirects it to the fallback URL.
  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  comment         = "${local.name}: short-link redirects"
  aliases         = var.domain_names
  price_class     = var.cloudfront_price_class

  # CLOUDFRONT-scope WAFv2 web ACLs are attached here, by ARN (not with a web ACL association).
  web_acl_id = aws_wafv2_web_acl.cloudfront.arn

  origin {
    origin_id   = "alb"
    domain_name = aws_lb.runtime.dns_name

    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "https-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = 10
      origin_keepalive_timeout = 60
    }

    # Checked by the ALB listener rule and by the runtime (ORIGIN_VERIFY_SECRET).
    custom_header {
      name  = local.origin_verify_header
      value = local.origin_verify_values[0]
    }
  }

  # The slug behaviour: every path is a slug (or /health, /robots.txt), none is cached.
  default_cache_behavior {
    target_origin_id           = "alb"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "redirect-to-https"
    compress                   = false
    cache_policy_id            = aws_cloudfront_cache_policy.redirects.id
    origin_request_policy_id   = aws_cloudfront_origin_request_policy.redirects.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.cloudfront_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  logging_config {
    bucket          = aws_s3_bucket.logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }

  depends_on = [aws_s3_bucket_ownership_controls.logs]
}

# --- DNS (optional) ---------------------------------------------------------------------------

data "aws_route53_zone" "parent" {
  count = var.manage_dns ? 1 : 0

  name = var.parent_domain_name

  lifecycle {
    precondition {
      condition     = var.parent_domain_name != ""
      error_message = "manage_dns needs parent_domain_name (the Route 53 zone of the short-link domains)."
    }
  }
}

resource "aws_route53_record" "alias_ipv4" {
  for_each = var.manage_dns ? toset(var.domain_names) : toset([])

  zone_id = data.aws_route53_zone.parent[0].zone_id
  name    = each.value
  type    = "A"

  alias {
    name                   = aws_cloudfront_distribution.runtime.domain_name
    zone_id                = aws_cloudfront_distribution.runtime.hosted_zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "alias_ipv6" {
  for_each = var.manage_dns ? toset(var.domain_names) : toset([])

  zone_id = data.aws_route53_zone.parent[0].zone_id
  name    = each.value
  type    = "AAAA"

  alias {
    name                   = aws_cloudfront_distribution.runtime.domain_name
    zone_id                = aws_cloudfront_distribution.runtime.hosted_zone_id
    evaluate_target_health = false
  }
}
