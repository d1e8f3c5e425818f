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
        "CloudFront-Viewer-ASN",
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

# --- Origins and failover ---------------------------------------------------------------------
#
# The timeouts of the primary origin in an origin group set what a failed-over click costs and
# how soon redirects recover (the goal: at most 1 s more for a click that fails over, and every
# redirect served by the secondary within 2 minutes of losing the primary, with no operator):
# - connection_attempts = 1 and connection_timeout = 1 s: a lost region either refuses the
#   connection (failover at once) or does not answer the TCP/TLS handshake, which CloudFront
#   gives up on after 1 s; the defaults (3 attempts of 10 s) would make it 30 s, and 1 s is
#   the least CloudFront accepts. An edge location reaches a healthy ALB in tens of ms, so
#   1 s never fails over a healthy region on connect.
# - origin_read_timeout = 1 s: a region that accepts the connection but does not answer (its
#   runtime stalled on a table that does not respond) fails over after 1 s; the runtime answers
#   in milliseconds (p99 alarm at var.latency_p99_threshold_seconds, 0.3 s by default), and its
#   own read of the other region's replica fits under it too. Worst case for one click: the
#   handshake time plus 1 s (about 1 s), then the secondary's answer.
# - Failover is decided per request: no health check or DNS TTL stands between the outage and
#   the secondary, so the recovery time is that per-request second, well inside 2 minutes.
# The secondary origin is the last resort: it keeps CloudFront's default attempts and the
# one-region estate's timeouts, so a slow secondary still answers rather than failing the click.
locals {
  cloudfront_origin_group_id       = "runtime-regions"
  cloudfront_failover_status_codes = [500, 502, 503, 504]

  cloudfront_origins = concat(
    [{
      id                  = "alb"
      domain_name         = module.primary.alb_dns_name
      connection_attempts = local.origin_failover ? 1 : null
      connection_timeout  = local.origin_failover ? 1 : null
      read_timeout        = local.origin_failover ? 1 : 10
    }],
    [for alb_dns_name in(local.two_regions ? [module.secondary[0].alb_dns_name] : []) : {
      id                  = "alb-secondary"
      domain_name         = alb_dns_name
      connection_attempts = null
      connection_timeout  = null
      read_timeout        = 10
    }],
  )
}

resource "aws_cloudfront_distribution" "runtime" {
  #checkov:skip=CKV_AWS_310:A one-region estate has one origin (the ALB spreads requests over tasks in several availability zones); with var.secondary the distribution gets the origin group below, a dynamic block that checkov does not evaluate.
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

  # One origin per region's ALB: "alb" is the primary region's (the only one of a one-region
  # estate), "alb-secondary" the secondary's.
  dynamic "origin" {
    for_each = local.cloudfront_origins

    content {
      origin_id           = origin.value.id
      domain_name         = origin.value.domain_name
      connection_attempts = origin.value.connection_attempts
      connection_timeout  = origin.value.connection_timeout

      custom_origin_config {
        http_port                = 80
        https_port               = 443
        origin_protocol_policy   = "https-only"
        origin_ssl_protocols     = ["TLSv1.2"]
        origin_read_timeout      = origin.value.read_timeout
        origin_keepalive_timeout = 60
      }

      # Checked by the ALB listener rule and by the runtime (ORIGIN_VERIFY_SECRET).
      custom_header {
        name  = local.origin_verify_header
        value = local.origin_verify_values[0]
      }
    }
  }

  # Failover from the primary region to the secondary: CloudFront retries a viewer's request on
  # the secondary origin when the primary refuses the connection, does not connect or answer
  # within the timeouts above, or answers one of these status codes (the ALB answers 502/503/504
  # when the region's runtime is down or stalled; the runtime answers 5xx when it cannot read
  # either replica). A 4xx or a redirect is an answer, never retried.
  dynamic "origin_group" {
    for_each = local.origin_failover ? [local.cloudfront_origin_group_id] : []

    content {
      origin_id = origin_group.value

      failover_criteria {
        status_codes = local.cloudfront_failover_status_codes
      }

      dynamic "member" {
        for_each = local.cloudfront_origins

        content {
          origin_id = member.value.id
        }
      }
    }
  }

  # The slug behaviour: every path is a slug (or /health, /robots.txt), none is cached.
  default_cache_behavior {
    target_origin_id           = local.origin_failover ? local.cloudfront_origin_group_id : "alb"
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
    bucket          = module.primary.logs_bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }

  lifecycle {
    precondition {
      condition     = !local.origin_failover || length(local.cloudfront_origins) == 2
      error_message = "A CloudFront origin group needs two origins: origin_failover is on, but the estate has ${length(local.cloudfront_origins)} region(s). Set secondary or turn origin_failover off."
    }
  }
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
