"""The fallback region's reads against moto: a second moto server stands for the other
region (its own endpoint and its own region name, as the other replica of a global table).

Two moto servers in one process share moto's state, kept apart by region as in AWS; the
end-to-end tests (``tests/e2e/test_regions.py``) run one moto process per region."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from devsite.processes import free_port
from link_tracking_runtime import from_item, item_key
from runtime_service.aws import AwsServices
from runtime_service.config import Settings
from tests.support.fault_proxy import fault_proxy
from tests.support.records import HOST, record
from tests.support.stack import LocalAws

OTHER_REGION = "eu-central-1"


@pytest.fixture
def other_region() -> Iterator[LocalAws]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield LocalAws(f"http://127.0.0.1:{port}", region=OTHER_REGION)
    finally:
        server.stop()


def test_fallback_reads_go_to_the_other_regions_endpoint_and_sign_for_its_region(
    moto_aws: LocalAws, other_region: LocalAws
) -> None:
    name = f"link-runtime-{uuid.uuid4().hex[:8]}"
    own, other = moto_aws.create_table(name), other_region.create_table(name)
    only_there = record("ABC123")
    LocalAws.publish(other, [only_there])  # not replicated yet: the other replica alone has it
    settings = Settings(
        dynamodb_table_name=name,
        dynamodb_fallback_region=OTHER_REGION,
        dynamodb_fallback_endpoint_url=other_region.endpoint_url,
    )

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            assert await aws.table.get_item(item_key(HOST, "ABC123")) is None
            assert aws.fallback_reads is not None
            item = await aws.fallback_reads.get_item(item_key(HOST, "ABC123"))
            assert item is not None and from_item(item) == only_there

    asyncio.run(scenario())
    assert own.item_count == 0


def test_a_table_in_another_region_of_the_same_endpoint_is_not_read(
    moto_aws: LocalAws, other_region: LocalAws
) -> None:
    # moto keeps each region's tables apart, as AWS does: signing for the wrong region on the
    # right endpoint finds nothing, so the test above proves the region is the fallback's.
    name = f"link-runtime-{uuid.uuid4().hex[:8]}"
    LocalAws.publish(LocalAws(other_region.endpoint_url).create_table(name), [record("ABC123")])
    other_region.create_table(name)
    settings = Settings(
        dynamodb_table_name=name,
        dynamodb_fallback_region=OTHER_REGION,
        dynamodb_fallback_endpoint_url=other_region.endpoint_url,
    )

    async def scenario() -> None:
        async with AwsServices(settings) as aws:
            assert aws.fallback_reads is not None
            assert await aws.fallback_reads.get_item(item_key(HOST, "ABC123")) is None

    asyncio.run(scenario())


def test_one_region_opens_no_fallback_reads(moto_aws: LocalAws) -> None:
    table = moto_aws.create_table()

    async def scenario() -> None:
        async with AwsServices(Settings(dynamodb_table_name=table.name)) as aws:
            assert aws.fallback_reads is None

    asyncio.run(scenario())


def test_with_a_fallback_region_the_own_region_is_tried_once(
    moto_aws: LocalAws, other_region: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read in the other region is the retry: a second attempt in the own region would wait
    # for standard mode's backoff (up to a second) inside the request's deadline.
    name = f"link-runtime-{uuid.uuid4().hex[:8]}"
    LocalAws.publish(moto_aws.create_table(name), [record("ABC123")])
    settings = Settings(
        dynamodb_table_name=name,
        dynamodb_fallback_region=OTHER_REGION,
        dynamodb_fallback_endpoint_url=other_region.endpoint_url,
    )
    with fault_proxy(moto_aws.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)

        async def scenario() -> None:
            async with AwsServices(settings) as aws:
                proxy.throttle_next = 1
                with pytest.raises(ClientError):
                    await aws.table.get_item(item_key(HOST, "ABC123"))
                assert (proxy.stats["throttled"], proxy.stats["pass"]) == (1, 0)
                assert await aws.table.get_item(item_key(HOST, "ABC123")) is not None

        asyncio.run(scenario())
