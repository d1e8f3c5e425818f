"""Create the runtime table (idempotent) and wait until it is ACTIVE."""

from __future__ import annotations

import os
import time
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from django.core.management.base import BaseCommand, CommandError, CommandParser

from link_tracking_runtime.table import create_table_kwargs

from ...aws import dynamodb_client
from ...conf import app_settings


def _key_shape(description: dict[str, Any]) -> tuple[Any, ...]:
    keys = tuple(sorted((k["AttributeName"], k["KeyType"]) for k in description["KeySchema"]))
    indexes = tuple(
        sorted(
            (
                gsi["IndexName"],
                tuple(sorted((k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"])),
            )
            for gsi in description.get("GlobalSecondaryIndexes") or ()
        )
    )
    return keys, indexes


def _where() -> str:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    return f"{endpoint} (AWS_ENDPOINT_URL)" if endpoint else f"AWS region {app_settings.AWS_REGION}"


class Command(BaseCommand):
    help = (
        "Create the DynamoDB runtime table (PK/SK, GSI campaign-index, on-demand) if it does not "
        "exist, and wait until it is ACTIVE. Safe to run again: an existing table with the "
        "right keys is left as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--table-name",
            default=None,
            help="Table to create (default: settings.LINK_RUNTIME_TABLE_NAME).",
        )
        parser.add_argument(
            "--wait-timeout",
            type=float,
            default=None,
            help="Seconds to wait for ACTIVE (default: LINK_TRACKING['SETUP_TABLE_WAIT_SECONDS']).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        table_name = options["table_name"] or app_settings.RUNTIME_TABLE_NAME
        timeout = options["wait_timeout"]
        timeout = app_settings.SETUP_TABLE_WAIT_SECONDS if timeout is None else timeout
        expected = create_table_kwargs(table_name)
        try:
            client = dynamodb_client()
            try:
                client.create_table(**expected)
                self.stdout.write(f"Creating table {table_name} at {_where()}…")
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceInUseException":
                    raise
                self.stdout.write(f"Table {table_name} already exists at {_where()}.")
            description = self._wait_active(client, table_name, timeout)
        except (NoCredentialsError, PartialCredentialsError):
            raise CommandError(
                "No AWS credentials found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "AWS_PROFILE); for a local moto server any values work, with "
                "AWS_ENDPOINT_URL=http://127.0.0.1:5000."
            ) from None
        except NoRegionError:
            raise CommandError(
                "No AWS region: set AWS_REGION in settings or the environment."
            ) from None
        except EndpointConnectionError as exc:
            raise CommandError(
                f"Cannot reach DynamoDB at {_where()}: {exc}. Is the endpoint right and running "
                "(for local development: make moto)?"
            ) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CommandError(
                f"DynamoDB refused to create table {table_name}: {error.get('Code')}: "
                f"{error.get('Message')}. Check the credentials' IAM permissions "
                "(dynamodb:CreateTable, dynamodb:DescribeTable) and the table name."
            ) from None
        except BotoCoreError as exc:
            raise CommandError(f"Cannot talk to DynamoDB at {_where()}: {exc}") from None

        if _key_shape(description) != _key_shape(expected):
            raise CommandError(
                f"Table {table_name} exists but its keys or indexes differ from the runtime "
                f"contract (PK/SK and GSI campaign-index on campaign_id/SK). Found: "
                f"{_key_shape(description)}. Use another --table-name or fix the table."
            )
        self.stdout.write(self.style.SUCCESS(f"Table {table_name} is ACTIVE."))

    def _wait_active(self, client: Any, table_name: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            description: dict[str, Any] = client.describe_table(TableName=table_name)["Table"]
            indexes = description.get("GlobalSecondaryIndexes") or ()
            if description["TableStatus"] == "ACTIVE" and all(
                gsi.get("IndexStatus", "ACTIVE") == "ACTIVE" for gsi in indexes
            ):
                return description
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Table {table_name} is still {description['TableStatus']} after "
                    f"{timeout:.0f}s; run the command again to keep waiting."
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
