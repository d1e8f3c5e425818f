"""What terraform/ must get right where the spec's Terraform got it wrong, and the properties
the estate is built around (no edge caching, origin verification, secrets, alarms, state)."""

from __future__ import annotations

import re

import pytest

from . import terraform_config as tf
from .terraform_config import ROOT, expression

RUNBOOKS_DIR = ROOT / "docs" / "runbooks"
RUNBOOKS = (
    "high-error-rate",
    "high-latency",
    "firehose-delivery",
    "dynamodb-throttling",
    "outbox-backlog",
    "no-healthy-targets",
    "click-ingestion",
    "region-lost",
    "region-back",
)
FIREHOSE_CONVERSION_MIN_BUFFER_MB = 64


@pytest.fixture(scope="module")
def config() -> tf.Configuration:
    return tf.estate()


def _values_of(config: tf.Configuration, value: object) -> list[object]:
    """A literal, or a variable's default and the value each environment gives it."""
    match = re.fullmatch(r"\$\{var\.(\w+)\}", value) if isinstance(value, str) else None
    if match is None:
        return [value]
    name = match.group(1)
    values = [config.variables[name]["default"]] if "default" in config.variables[name] else []
    values += [v[name] for v in tf.var_files().values() if name in v]
    assert values, f"var.{name} has no default and no environment sets it"
    return values


# --- WAF -----------------------------------------------------------------------------------------


def test_cloudfront_waf_lives_in_us_east_1(config):
    acls = {
        n: b for n, b in config.of_type("aws_wafv2_web_acl").items() if b["scope"] == "CLOUDFRONT"
    }
    assert acls, "no CLOUDFRONT-scope web ACL"
    regions = {
        body.get("alias"): body.get("region") for name, body in config.providers if name == "aws"
    }
    for name, acl in acls.items():
        alias = re.fullmatch(r"\$\{aws\.(\w+)\}", acl.get("provider", ""))
        assert alias, f"aws_wafv2_web_acl.{name} must use a us-east-1 provider alias"
        assert regions[alias.group(1)] == "us-east-1"


def test_cloudfront_waf_is_attached_by_web_acl_id_not_by_association(config):
    acl_names = [
        n for n, b in config.of_type("aws_wafv2_web_acl").items() if b["scope"] == "CLOUDFRONT"
    ]
    for association in config.of_type("aws_wafv2_web_acl_association").values():
        assert not any(f"aws_wafv2_web_acl.{n}." in association["web_acl_arn"] for n in acl_names)
    distribution = config.resource("aws_cloudfront_distribution", "runtime")
    assert distribution["web_acl_id"] in {
        expression(f"aws_wafv2_web_acl.{name}.arn") for name in acl_names
    }


def test_waf_protects_against_log4j_and_floods(config):
    acl = config.resource("aws_wafv2_web_acl", "cloudfront")
    statements = [rule["statement"][0] for rule in acl["rule"]]
    managed = {
        s["managed_rule_group_statement"][0]["name"]
        for s in statements
        if "managed_rule_group_statement" in s
    }
    assert "AWSManagedRulesKnownBadInputsRuleSet" in managed
    assert any("rate_based_statement" in s for s in statements)


# --- CloudFront: redirects are never served from the edge ----------------------------------------


def test_slug_behaviour_caches_nothing_and_forwards_host_and_query(config):
    distribution = config.resource("aws_cloudfront_distribution", "runtime")
    behaviours = distribution["default_cache_behavior"] + distribution.get(
        "ordered_cache_behavior", []
    )
    for behaviour in behaviours:
        assert "forwarded_values" not in behaviour, "legacy forwarded_values caches by TTL"
        cache_ref = re.fullmatch(
            r"\$\{aws_cloudfront_cache_policy\.(\w+)\.id\}", behaviour["cache_policy_id"]
        )
        assert cache_ref, behaviour["cache_policy_id"]
        policy = config.resource("aws_cloudfront_cache_policy", cache_ref.group(1))
        assert (policy["min_ttl"], policy["default_ttl"], policy["max_ttl"]) == (0, 0, 0)

    (slugs,) = distribution["default_cache_behavior"]
    request_ref = re.fullmatch(
        r"\$\{aws_cloudfront_origin_request_policy\.(\w+)\.id\}", slugs["origin_request_policy_id"]
    )
    assert request_ref, "the slug behaviour needs an origin request policy"
    request_policy = config.resource("aws_cloudfront_origin_request_policy", request_ref.group(1))
    (headers,) = request_policy["headers_config"]
    assert headers["header_behavior"] in {
        "whitelist",
        "allViewer",
        "allViewerAndWhitelistCloudFront",
    }
    if headers["header_behavior"] == "whitelist":
        assert "Host" in headers["headers"][0]["items"]
    (query,) = request_policy["query_strings_config"]
    assert query["query_string_behavior"] == "all"
    (cookies,) = request_policy["cookies_config"]
    assert cookies["cookie_behavior"] == "none"


def test_viewers_and_origin_use_current_tls(config):
    distribution = config.resource("aws_cloudfront_distribution", "runtime")
    (certificate,) = distribution["viewer_certificate"]
    assert certificate["minimum_protocol_version"] in {
        "TLSv1.2_2021",
        "TLSv1.2_2025",
        "TLSv1.3_2025",
    }
    for origin in config.origins():
        (custom,) = origin["custom_origin_config"]
        assert custom["origin_protocol_policy"] == "https-only"
        assert custom["origin_ssl_protocols"] == ["TLSv1.2"]
    https = config.resource("aws_lb_listener", "https")
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13-")


def test_plain_http_is_redirected_to_https(config):
    http = config.resource("aws_lb_listener", "http")
    (action,) = http["default_action"]
    assert action["type"] == "redirect"
    (redirect,) = action["redirect"]
    assert (redirect["protocol"], redirect["port"], redirect["status_code"]) == (
        "HTTPS",
        "443",
        "HTTP_301",
    )


# --- Origin verification -------------------------------------------------------------------------


def test_origin_secret_flows_from_one_secret_to_cloudfront_alb_and_runtime(config):
    secret = "aws_secretsmanager_secret.origin_verify"
    (current,) = [
        body
        for (kind, _), body in config.data.items()
        if kind == "aws_secretsmanager_secret_version"
        and body["secret_id"] == expression(f"{secret}.id")
    ]
    assert current  # the value in force is read back from that secret
    values = config.locals["origin_verify_values"]
    assert "data.aws_secretsmanager_secret_version.origin_verify.secret_string" in values

    for origin in config.origins():
        (header,) = origin["custom_header"]
        assert header["value"] == expression("local.origin_verify_values[0]")

    # Each region's ALB and runtime are given the same values and that secret (its replica in
    # the secondary region: the same ARN but for the region).
    regions = tf.load().modules
    assert regions["primary"]["origin_verify_values"] == expression("local.origin_verify_values")
    assert regions["secondary"]["origin_verify_values"] == expression("local.origin_verify_values")
    assert regions["primary"]["origin_verify_secret_arn"] == expression(f"{secret}.arn")
    assert regions["secondary"]["origin_verify_secret_arn"] == expression(
        "local.origin_verify_secret_secondary_arn"
    )
    assert f"{secret}.arn" in config.locals["origin_verify_secret_secondary_arn"]

    rule = config.resource("aws_lb_listener_rule", "from_cloudfront")
    (condition,) = rule["condition"]
    (http_header,) = condition["http_header"]
    assert http_header["http_header_name"] == expression("var.origin_verify_header")
    assert http_header["values"] == expression("var.origin_verify_values")
    assert rule["action"][0]["type"] == "forward"

    assert config.local_literal("runtime_secrets")["ORIGIN_VERIFY_SECRET"] == expression(
        "var.origin_verify_secret_arn"
    )


def test_alb_refuses_requests_that_skipped_cloudfront(config):
    https = config.resource("aws_lb_listener", "https")
    (action,) = https["default_action"]
    assert action["type"] == "fixed-response"
    assert action["fixed_response"][0]["status_code"] == "403"
    ingress = config.of_type("aws_vpc_security_group_ingress_rule")
    alb_rules = [
        r
        for r in ingress.values()
        if r["security_group_id"] == expression("aws_security_group.alb.id")
    ]
    assert alb_rules and all("cidr_ipv4" not in r and "prefix_list_id" in r for r in alb_rules)


# --- Secrets and IAM -----------------------------------------------------------------------------


def _statements(config, document):
    return config.data_source("aws_iam_policy_document", document)["statement"]


def test_runtime_reads_signing_keyrings_only_under_their_prefix(config):
    assert config.variables["signing_secret_prefix"]["default"] == "link-signatures/"
    pattern = config.locals["signing_secrets_arn_pattern"]
    assert pattern.endswith(":secret:${var.signing_secret_prefix}*")
    reads = [
        s
        for s in _statements(config, "ecs_task")
        if "secretsmanager:GetSecretValue" in s["actions"]
    ]
    assert [s["resources"] for s in reads] == [[expression("local.signing_secrets_arn_pattern")]]


def test_execution_role_reads_exactly_the_injected_secrets(config):
    reads = [
        s
        for s in _statements(config, "ecs_execution")
        if "secretsmanager:GetSecretValue" in s["actions"]
    ]
    (statement,) = reads
    injected = set(config.local_literal("runtime_secrets").values())
    assert set(statement["resources"]) == injected


def test_no_runtime_policy_grants_everything(config):
    for document in ("ecs_task", "ecs_execution", "firehose", "publisher"):
        for statement in _statements(config, document):
            assert not any(a == "*" or a.endswith(":*") for a in statement["actions"]), statement
            if statement["resources"] == ["*"]:
                assert statement["actions"] == ["ecr:GetAuthorizationToken"], statement


def test_task_definition_holds_no_secret_values(config):
    environment = config.local_literal("runtime_environment_base")
    for name, value in environment.items():
        assert "secret_string" not in str(value) and "random_password" not in str(value), name


# --- Firehose ------------------------------------------------------------------------------------


def test_firehose_buffer_meets_the_format_conversion_minimum(config):
    stream = config.resource("aws_kinesis_firehose_delivery_stream", "click_events")
    (s3,) = stream["extended_s3_configuration"]
    assert s3["data_format_conversion_configuration"][0]["enabled"] is True
    for size in _values_of(config, s3["buffering_size"]):
        assert size >= FIREHOSE_CONVERSION_MIN_BUFFER_MB
    # Parquet compresses inside the file; S3-level compression is refused with conversion.
    assert s3.get("compression_format", "UNCOMPRESSED") == "UNCOMPRESSED"


# --- DynamoDB ------------------------------------------------------------------------------------


def test_table_is_recoverable_encrypted_and_protected_in_prod(config):
    runtime_table = config.resource("aws_dynamodb_table", "link_runtime")
    assert runtime_table["point_in_time_recovery"][0]["enabled"] is True
    assert runtime_table["server_side_encryption"][0]["enabled"] is True
    assert runtime_table["deletion_protection_enabled"] == expression("var.deletion_protection")
    assert tf.var_files()["prod"]["deletion_protection"] is True


# --- ECS -----------------------------------------------------------------------------------------


def test_failed_deployments_roll_back(config):
    service = config.resource("aws_ecs_service", "runtime")
    (breaker,) = service["deployment_circuit_breaker"]
    assert breaker == {"enable": True, "rollback": True}


def test_service_scales_on_cpu_and_requests_per_target(config):
    metrics = set()
    for policy in config.of_type("aws_appautoscaling_policy").values():
        (tracking,) = policy["target_tracking_scaling_policy_configuration"]
        metrics.add(tracking["predefined_metric_specification"][0]["predefined_metric_type"])
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


def test_gateway_endpoints_are_optional(config):
    endpoints = config.of_type("aws_vpc_endpoint")
    services = {body["service_name"].rsplit(".", 1)[1]: body for body in endpoints.values()}
    assert set(services) == {"dynamodb", "s3"}
    for body in services.values():
        assert body["vpc_endpoint_type"] == "Gateway"
        assert body["count"] == expression("var.enable_gateway_endpoints ? 1 : 0")


# --- Alarms and runbooks -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alarms(config):
    return config.of_type("aws_cloudwatch_metric_alarm")


def _runbooks_of(config, alarm) -> set[str]:
    """The runbooks an alarm's description names (what to do, and when it is back to OK)."""
    description = config.substitute_locals(alarm["alarm_description"])
    names = set(re.findall(r"docs/runbooks/([a-z0-9-]+)\.md", description))
    assert names, f"alarm description names no runbook: {description}"
    return names


def test_every_alarm_notifies_and_names_an_existing_runbook(config, alarms):
    assert alarms
    for name, alarm in alarms.items():
        # Each region's alarms on its own topic; the control plane's on the primary region's;
        # those that watch the regions from us-east-1 on the edge topic there.
        assert alarm["alarm_actions"] in (
            [expression("aws_sns_topic.alerts.arn")],
            [expression("module.primary.sns_alerts_topic_arn")],
            [expression("aws_sns_topic.edge_alerts[0].arn")],
        ), name
        for runbook in _runbooks_of(config, alarm):
            path = RUNBOOKS_DIR / f"{runbook}.md"
            assert path.is_file(), f"{name}: docs/runbooks/{runbook}.md"


def test_every_runbook_has_an_alarm(config, alarms):
    assert set().union(*(_runbooks_of(config, alarm) for alarm in alarms.values())) == set(RUNBOOKS)


def test_error_rate_alarm_divides_5xx_by_requests(alarms):
    queries = {q["id"]: q for q in alarms["high_error_rate"]["metric_query"]}
    (returned,) = [q for q in queries.values() if q.get("return_data")]
    expression_text = returned["expression"]
    metric_of = {i: q["metric"][0]["metric_name"] for i, q in queries.items() if "metric" in q}
    assert "/" in expression_text
    denominator = expression_text.rsplit("/", 1)[1]
    assert [metric_of[i] for i in metric_of if re.search(rf"\b{i}\b", denominator)] == [
        "RequestCount"
    ]
    numerator_metrics = {
        metric_of[i] for i in metric_of if re.search(rf"\b{i}\b", expression_text.rsplit("/", 1)[0])
    }
    assert "HTTPCode_Target_5XX_Count" in numerator_metrics


def test_throttling_alarm_uses_throttled_requests(alarms):
    throttling = alarms["dynamodb_throttling"]
    (dynamic,) = throttling["dynamic"]
    metric = dynamic["metric_query"]["content"][0]["metric"][0]
    assert (metric["namespace"], metric["metric_name"]) == ("AWS/DynamoDB", "ThrottledRequests")
    assert "var.table_name" in metric["dimensions"]["TableName"]
    assert tf.load().modules["primary"]["table_name"] == expression("local.table_name")
    for name, alarm in alarms.items():
        assert alarm.get("metric_name") not in {"UserErrors", "ReadThrottleEvents"}, name


def test_firehose_alarms_watch_lag_and_failures(alarms):
    watched = {
        alarm.get("metric_name")
        for alarm in alarms.values()
        if alarm.get("namespace") == "AWS/Firehose"
    }
    assert {"DeliveryToS3.DataFreshness", "DeliveryToS3.Success"} <= watched


# --- State and environments ----------------------------------------------------------------------


def test_remote_state_is_configured_at_init(config):
    backends = [
        backend for block in config.terraform_blocks for backend in block.get("backend", [])
    ]
    assert backends == [{"s3": {}}], "the backend must be an empty partial configuration"
    for environment in ("dev", "prod"):
        path = tf.ENVIRONMENTS_DIR / f"{environment}.s3.tfbackend.example"
        settings = tf.parse(path)
        assert {"bucket", "key", "region"} <= set(settings), path


def test_required_variables_referenced_by_the_spec_are_declared(config):
    for name in ("manage_dns", "parent_domain_name", "alert_email", "domain_names", "environment"):
        assert name in config.variables


# --- Click ingestion: S3 notifications on SQS --------------------------------------------------


def test_new_click_objects_are_notified_on_an_encrypted_queue_with_a_dead_letter_queue(config):
    (notification,) = config.of_type("aws_s3_bucket_notification").values()
    assert notification["bucket"] == expression("aws_s3_bucket.click_events.id")
    (queue,) = notification["queue"]
    assert queue["queue_arn"] == expression("aws_sqs_queue.click_objects.arn")
    assert queue["events"] == ["s3:ObjectCreated:*"]
    # The prefix Firehose writes to, and the one the control plane ingests from by default.
    prefix = config.substitute_locals(
        config.of_type("aws_kinesis_firehose_delivery_stream")["click_events"][
            "extended_s3_configuration"
        ][0]["prefix"]
    )
    assert prefix.startswith(queue["filter_prefix"])
    from link_tracking_publisher.conf import DEFAULTS

    assert queue["filter_prefix"] == DEFAULTS["CLICK_EVENTS_S3_PREFIX"]
    queues = config.of_type("aws_sqs_queue")
    for name in ("click_objects", "click_objects_dlq"):
        assert queues[name]["kms_master_key_id"] == expression("aws_kms_key.main.arn")
    assert "aws_sqs_queue.click_objects_dlq.arn" in queues["click_objects"]["redrive_policy"]


def test_only_the_bucket_may_send_and_the_control_plane_may_consume(config):
    policy = config.data_source("aws_iam_policy_document", "click_objects_queue")
    send = next(
        s for s in policy["statement"] if s.get("sid") == "ClickEventsBucketSendsObjectCreated"
    )
    assert send["actions"] == ["sqs:SendMessage"]
    assert send["principals"][0]["identifiers"] == ["s3.amazonaws.com"]
    conditions = {c["variable"]: c["values"] for c in send["condition"]}
    assert conditions["aws:SourceArn"] == [expression("aws_s3_bucket.click_events.arn")]
    publisher = config.data_source("aws_iam_policy_document", "publisher")
    by_sid = {s["sid"]: s for s in publisher["statement"]}
    assert "sqs:ReceiveMessage" in by_sid["ConsumeClickObjectNotifications"]["actions"]
    assert "sqs:DeleteMessage" in by_sid["ConsumeClickObjectNotifications"]["actions"]
    assert by_sid["ReadClickEventObjects"]["actions"] == ["s3:GetObject"]
