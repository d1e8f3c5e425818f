"""The estate keeps visitors' data briefly and redacts what WAF lets it redact.

Before: CloudFront and ALB access logs (raw IPs, full query strings with ``sms_msg_id`` and
``sig``) were kept 90 days, WAF logs 365 days, and WAF logged query strings and headers whole.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.terraform.terraform_config import Configuration, strings, var_files
from tests.terraform.terraform_config import estate as whole_estate

SHORT_DAYS = 30


@pytest.fixture(scope="module")
def estate() -> Configuration:
    return whole_estate()  # the root module and modules/region (the per-region resources)


def _blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def test_access_log_retention_is_a_short_variable(estate: Configuration) -> None:
    variable = estate.variables["access_log_retention_days"]
    assert variable["default"] <= SHORT_DAYS
    lifecycle = estate.resource("aws_s3_bucket_lifecycle_configuration", "logs")
    rule = _blocks(lifecycle, "rule")[0]
    assert _blocks(rule, "expiration")[0]["days"] == "${var.access_log_retention_days}"
    # Expired versions do not linger for a week.
    assert _blocks(rule, "noncurrent_version_expiration")[0]["noncurrent_days"] <= 1
    # CloudFront (through the primary region's output) and ALB both log into that bucket.
    cloudfront = " ".join(strings(estate.of_type("aws_cloudfront_distribution")))
    assert "module.primary.logs_bucket_domain_name" in cloudfront
    output = estate.outputs["logs_bucket_domain_name"]
    assert "aws_s3_bucket.logs" in " ".join(strings(output))
    alb = " ".join(strings(estate.of_type("aws_lb")))
    assert "aws_s3_bucket.logs" in alb


def test_no_environment_keeps_access_logs_long() -> None:
    for name, values in var_files().items():
        for key in ("access_log_retention_days", "waf_log_retention_days"):
            assert values.get(key, 0) <= SHORT_DAYS, (name, key)


def test_waf_logs_are_short_lived_and_redacted(estate: Configuration) -> None:
    assert estate.variables["waf_log_retention_days"]["default"] <= SHORT_DAYS
    group = estate.resource("aws_cloudwatch_log_group", "waf")
    assert group["retention_in_days"] == "${var.waf_log_retention_days}"

    logging = estate.resource("aws_wafv2_web_acl_logging_configuration", "cloudfront")
    redacted = _blocks(logging, "redacted_fields")
    assert any("query_string" in block for block in redacted)
    dynamic = [d for d in _blocks(logging, "dynamic") if "redacted_fields" in d]
    headers = set(dynamic[0]["redacted_fields"]["for_each"])
    assert {"cookie", "authorization", "user-agent", "x-forwarded-for"} <= headers
