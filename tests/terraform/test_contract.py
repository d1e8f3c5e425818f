"""terraform/ agrees with the contract: the table the control plane writes and the runtime
reads, the click-event columns Firehose converts with, and the settings the runtime requires."""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from link_tracking_runtime import events, record, table, urls
from link_tracking_runtime.click import VIEWER_ASN_HEADER

from . import terraform_config as tf
from .terraform_config import expression

#: Variables in the task's environment that are not runtime settings: gunicorn reads them.
PROCESS_VARIABLES = frozenset({"WEB_CONCURRENCY"})


@pytest.fixture(scope="module")
def config() -> tf.Configuration:
    return tf.estate()


def runtime_config():
    """runtime_service.config, once the runtime is in the tree (it is written on its own
    branch); skipped only while the package is absent, never to hide an import error."""
    if importlib.util.find_spec("runtime_service") is None:
        pytest.skip("runtime_service is not in this tree yet")
    import runtime_service.config

    return runtime_service.config


# --- DynamoDB -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime_table(config):
    return config.resource("aws_dynamodb_table", "link_runtime")


def test_table_key_schema_is_the_contracts(runtime_table):
    key_schema = [
        {"AttributeName": runtime_table["hash_key"], "KeyType": "HASH"},
        {"AttributeName": runtime_table["range_key"], "KeyType": "RANGE"},
    ]
    assert key_schema == list(table.KEY_SCHEMA)


def test_table_attribute_definitions_are_the_contracts(runtime_table):
    attributes = sorted(
        (attribute["name"], attribute["type"]) for attribute in runtime_table["attribute"]
    )
    expected = sorted(
        (definition["AttributeName"], definition["AttributeType"])
        for definition in table.ATTRIBUTE_DEFINITIONS
    )
    assert attributes == expected


def test_table_global_secondary_indexes_are_the_contracts(runtime_table):
    indexes = [
        {
            "IndexName": index["name"],
            "KeySchema": [
                {"AttributeName": index["hash_key"], "KeyType": "HASH"},
                *(
                    [{"AttributeName": index["range_key"], "KeyType": "RANGE"}]
                    if "range_key" in index
                    else []
                ),
            ],
            "Projection": {"ProjectionType": index["projection_type"]},
        }
        for index in runtime_table.get("global_secondary_index", [])
    ]
    assert indexes == list(table.GLOBAL_SECONDARY_INDEXES)


def test_table_is_on_demand(runtime_table):
    assert runtime_table["billing_mode"] == table.BILLING_MODE


def test_prod_table_name_is_the_control_planes_default(runtime_table):
    # LINK_RUNTIME_TABLE_NAME defaults to the contract's name; prod must be that table.
    name = config_name = runtime_table["name"]
    if config_name == expression("local.table_name"):
        name = tf.estate().locals["table_name"]
    name = name.replace(expression("var.environment"), "prod")
    assert name == table.DEFAULT_TABLE_NAME


def test_publisher_may_query_the_campaign_index(config):
    document = config.data_source("aws_iam_policy_document", "publisher")
    # A list of ARNs, or an expression building one (one table ARN per region).
    resources = list(tf.strings([s.get("resources", []) for s in document["statement"]]))
    assert any(f"}}/index/{table.CAMPAIGN_INDEX_NAME}" in r for r in resources)


def test_runtime_may_update_only_the_click_counter(config):
    document = config.data_source("aws_iam_policy_document", "ecs_task")
    updates = [s for s in document["statement"] if "dynamodb:UpdateItem" in s["actions"]]
    assert len(updates) == 1
    conditions = {c["variable"]: c for c in updates[0]["condition"]}
    attributes = conditions["dynamodb:Attributes"]
    assert attributes["test"] == "ForAllValues:StringEquals"
    assert set(attributes["values"]) == {
        table.HASH_KEY,
        table.RANGE_KEY,
        record.CLICK_COUNTER_ATTRIBUTE,
    }


# --- Glue / Firehose --------------------------------------------------------------------------


def test_glue_columns_are_the_click_event_columns_in_order(config):
    glue_table = config.resource("aws_glue_catalog_table", "click_events")
    (storage,) = glue_table["storage_descriptor"]
    columns = [(column["name"], column["type"]) for column in storage["columns"]]
    assert columns == list(events.CLICK_EVENT_COLUMNS)


def test_firehose_converts_with_that_glue_table(config):
    stream = config.resource("aws_kinesis_firehose_delivery_stream", "click_events")
    (s3,) = stream["extended_s3_configuration"]
    (conversion,) = s3["data_format_conversion_configuration"]
    (schema,) = conversion["schema_configuration"]
    assert schema["table_name"] == expression("aws_glue_catalog_table.click_events.name")
    assert "aws_glue_catalog_table.click_events" in schema["database_name"]


def _java_date(pattern: str, at: datetime) -> str:
    """``at`` formatted by a java.time pattern of quoted literals, yyyy, MM, dd and HH (what
    Athena's date projection and Firehose's !{timestamp:…} take)."""
    fields = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
    out = []
    for literal, field in re.findall(r"'([^']*)'|(yyyy|MM|dd|HH)", pattern):
        out.append(literal if not field else at.strftime(fields[field]))
    assert "".join(out) and re.sub(r"'[^']*'|yyyy|MM|dd|HH", "", pattern) == "", pattern
    return "".join(out)


def test_glue_partition_projection_is_the_firehose_prefix(config):
    glue_table = config.resource("aws_glue_catalog_table", "click_events")
    column = events.CLICK_EVENT_PARTITION_COLUMN
    assert glue_table["partition_keys"] == [
        {"name": column, "type": "string", "comment": glue_table["partition_keys"][0]["comment"]}
    ]
    # The projection of a one-region estate; with two regions a second projected column names
    # each region's bucket (test_glue_table_reads_every_regions_bucket).
    assert glue_table["parameters"] == expression(
        "merge(local.glue_projection, local.glue_bucket_projection)"
    )
    parameters = config.locals["glue_projection"]
    assert parameters["projection.enabled"] == "true"
    assert parameters[f"projection.{column}.type"] == "date"
    assert parameters[f"projection.{column}.interval"] == "1"
    assert parameters[f"projection.{column}.interval.unit"] == "HOURS"
    stream = config.resource("aws_kinesis_firehose_delivery_stream", "click_events")
    (s3,) = stream["extended_s3_configuration"]
    (storage,) = glue_table["storage_descriptor"]
    # The template is the table's location plus the projected value (escaped "$${…}" in HCL).
    template = parameters["storage.location.template"].replace("$${", "${")
    assert template == storage["location"] + "${" + column + "}/"
    # One arrival hour spelled three ways: Firehose's prefix, the projection, the contract.
    at = datetime(2026, 3, 7, 9, tzinfo=UTC)
    firehose = re.sub(r"!\{timestamp:([^}]*)\}", lambda m: _java_date(m[1], at), s3["prefix"])
    projected = _java_date(parameters[f"projection.{column}.format"], at)
    assert projected == at.strftime(events.CLICK_EVENT_PARTITION_FORMAT)
    assert firehose == "click-events/" + projected + "/"
    assert storage["location"].endswith("}/click-events/")  # the bucket, then that prefix
    start, end = parameters[f"projection.{column}.range"].split(",")
    assert datetime.strptime(start, events.CLICK_EVENT_PARTITION_FORMAT) and end == "NOW"


def test_glue_table_reads_every_regions_bucket(config):
    glue_table = config.resource("aws_glue_catalog_table", "click_events")
    (extra,) = glue_table["dynamic"]
    assert extra["partition_keys"]["for_each"] == expression(
        'local.multi_region_glue ? ["click_events_bucket"] : []'
    )
    projection = config.locals["glue_bucket_projection"]
    assert "projection.click_events_bucket.type" in projection
    assert '"enum"' in projection and "var.click_events_bucket_names" in projection
    # The template is the one-region one with the bucket projected: the same prefix, so the
    # datehour projection and Firehose's prefix still agree in every bucket.
    single = config.locals["glue_projection"]["storage.location.template"].replace("$${", "${")
    assert single.startswith("s3://${aws_s3_bucket.click_events.id}/click-events/")
    assert "s3://$${click_events_bucket}/click-events/$${datehour}/" in projection


# --- The runtime's settings in the task definition -------------------------------------------


@pytest.fixture(scope="module")
def task_environment(config) -> dict[str, object]:
    return config.local_literal("runtime_environment_base")


@pytest.fixture(scope="module")
def task_secrets(config) -> dict[str, str]:
    return config.local_literal("runtime_secrets")


def test_the_container_definition_is_built_from_those_maps(config):
    task = config.resource("aws_ecs_task_definition", "runtime")
    assert task["container_definitions"].startswith(expression("jsonencode(")[:-1])
    assert "local.runtime_container" in task["container_definitions"]
    container = config.locals["runtime_container"]
    assert "in sort(keys(local.runtime_environment))" in container["environment"]
    assert "in sort(keys(local.runtime_secrets))" in container["secrets"]
    assert re.search(r"valueFrom\W+local\.runtime_secrets\[name\]", container["secrets"])
    # The overrides come last: they win over the base and the fallback region.
    assert config.locals["runtime_environment"] == expression(
        "merge(local.runtime_environment_base, local.runtime_environment_regions,"
        " var.runtime_environment_overrides)"
    )


def test_every_required_setting_is_set(task_environment, task_secrets):
    settings = runtime_config().SETTINGS
    missing = [
        setting.name
        for setting in settings
        if setting.required
        and setting.name not in (task_secrets if setting.secret else task_environment)
    ]
    assert not missing, f"the task definition does not set the required settings {missing}"


def test_secret_settings_come_only_from_secrets_manager(task_environment, task_secrets):
    secret_names = {setting.name for setting in runtime_config().SETTINGS if setting.secret}
    assert not secret_names & set(task_environment), "a secret is a plain environment variable"
    assert set(task_secrets) == secret_names
    for name, value_from in task_secrets.items():
        # The region's copy of the secret, given by the root module (see test_estate).
        assert re.fullmatch(r"\$\{var\.\w+_secret_arn\}", value_from), name


def test_overrides_can_never_carry_a_secret(config):
    secret_names = {setting.name for setting in runtime_config().SETTINGS if setting.secret}
    validation = config.variables["runtime_environment_overrides"]["validation"][0]
    (listed,) = re.findall(r"contains\(\[([^\]]*)\]", validation["condition"])
    assert set(re.findall(r'"([A-Z0-9_]+)"', listed)) == secret_names


def test_every_name_in_the_task_is_a_runtime_setting(task_environment, task_secrets):
    known = {setting.name for setting in runtime_config().SETTINGS} | PROCESS_VARIABLES
    unknown = (set(task_environment) | set(task_secrets)) - known
    assert not unknown, f"the runtime reads no setting named {sorted(unknown)}"


def test_deployed_environment_is_never_development(task_environment):
    # ENVIRONMENT=development lets required settings fall back to local defaults.
    environments = runtime_config().ENVIRONMENTS
    chosen = set(re.findall(r'\? "(\w+)" : "(\w+)"', task_environment["ENVIRONMENT"])[0])
    assert chosen <= set(environments)
    assert "development" not in chosen


def config_table_name() -> str:
    return tf.load().resource("aws_dynamodb_table", "link_runtime")["name"]


def test_settings_point_at_the_estates_resources(task_environment, task_secrets):
    assert task_environment["DYNAMODB_TABLE_NAME"] == expression("var.table_name")
    assert tf.load().modules["primary"]["table_name"] == expression("local.table_name")
    assert config_table_name() == expression("local.table_name")
    assert task_environment["FIREHOSE_STREAM_NAME"] == expression(
        "aws_kinesis_firehose_delivery_stream.click_events.name"
    )
    assert task_environment["AWS_REGION"] == expression("var.aws_region")
    assert task_secrets["ORIGIN_VERIFY_SECRET"] == expression("var.origin_verify_secret_arn")
    assert task_secrets["IP_HASH_KEY"] == expression("var.ip_hash_key_secret_arn")
    primary = tf.load().modules["primary"]
    assert primary["origin_verify_secret_arn"] == expression(
        "aws_secretsmanager_secret.origin_verify.arn"
    )
    assert primary["ip_hash_key_secret_arn"] == expression(
        "aws_secretsmanager_secret.ip_hash_key.arn"
    )


def test_client_ip_is_read_behind_cloudfront_and_the_alb(task_environment):
    # X-Forwarded-For gets the viewer from CloudFront and CloudFront's address from the ALB.
    assert task_environment["TRUSTED_PROXY_COUNT"] == 2


def test_origin_header_name_is_the_one_cloudfront_adds(config, task_environment):
    assert task_environment["ORIGIN_VERIFY_HEADER"] == expression("lower(var.origin_verify_header)")
    assert tf.load().modules["primary"]["origin_verify_header"] == expression(
        "local.origin_verify_header"
    )
    for origin in config.origins():
        (header,) = origin["custom_header"]
        assert header["name"] == expression("local.origin_verify_header")


def test_event_journal_is_on_a_writable_volume(config, task_environment):
    container = config.locals["runtime_container"]
    assert container["readonlyRootFilesystem"] is True
    journal = config.substitute_locals(task_environment["EVENT_JOURNAL_DIR"])
    mounts = [config.substitute_locals(m["containerPath"]) for m in container["mountPoints"]]
    assert journal.startswith("/")
    assert any(journal == m or journal.startswith(m.rstrip("/") + "/") for m in mounts), (
        journal,
        mounts,
    )


# --- CloudFront forwards what the contract reads -------------------------------------------


def test_cloudfront_forwards_the_viewer_headers_the_runtime_reads(config):
    policy = config.resource("aws_cloudfront_origin_request_policy", "redirects")
    (headers,) = policy["headers_config"]
    forwarded = {name.lower() for name in headers["headers"][0]["items"]}
    # Host picks the domain's records; the country drives geo routing; the user agent drives
    # bot detection and device routing; the referer, the language and the viewer's network go
    # into the click event (and the language drives language routing).
    assert {
        "host",
        urls.GEO_COUNTRY_HEADER,
        "user-agent",
        "referer",
        "accept-language",
        VIEWER_ASN_HEADER.lower(),
    } <= forwarded


# --- Runtime metrics the alarms and the dashboard watch --------------------------------------


def _runtime_sources() -> str:
    runtime_config()  # skips while runtime_service is absent
    spec = importlib.util.find_spec("runtime_service")
    (package_dir,) = spec.submodule_search_locations
    return "\n".join(path.read_text() for path in sorted(Path(package_dir).glob("*.py")))


def test_runtime_metrics_watched_are_emitted_by_the_runtime(config, task_environment):
    assert task_environment["METRICS_NAMESPACE"] == expression("local.metrics_namespace")
    namespace = expression("local.metrics_namespace")
    watched = {
        alarm["metric_name"]
        for alarm in config.of_type("aws_cloudwatch_metric_alarm").values()
        if alarm.get("namespace") == namespace
    }
    widgets = config.locals["dashboard_widgets"]
    for widget in widgets:
        metrics = widget["metrics"]
        if isinstance(metrics, str) and "local.metrics_namespace" in metrics:
            (listed,) = re.findall(r"for name in \[([^\]]*)\]", metrics)
            watched |= set(re.findall(r'"([\w.]+)"', listed))
        elif isinstance(metrics, list):
            watched |= {m[1] for m in metrics if m[0] == namespace}
    assert {"EventsJournaled", "RedirectLatency"} <= watched

    sources = _runtime_sources()
    for name in sorted(watched):
        prefix, _, suffix = name.partition(".")
        if prefix == "Outcome" and suffix:
            assert suffix in events.OUTCOMES and 'f"Outcome.{' in sources, name
        else:
            assert f'"{name}"' in sources, f"the runtime emits no metric {name}"
    services = set(re.findall(r'service: str = "([^"]+)"', sources))
    assert services == {config.local_literal("metrics_service")}
