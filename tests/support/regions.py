"""Two "regions" on this machine, for the region-loss tests: each its own moto server (its own
process, so it can be killed alone), its own region name, its own copy of the runtime table and
its own runtime process reading that copy first and the other region's after.

moto cannot replicate a DynamoDB global table between two servers, so the replication is an
explicit step: :meth:`TwoRegions.publish` writes every record to both copies, as the global
table's replication would have done before the outage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from devsite.processes import (
    LOCAL_AWS_ENV,
    ManagedProcess,
    free_port,
    moto_server_command,
    runtime_command,
    start_process,
    wait_for_http,
)
from link_tracking_runtime import RuntimeRecord

from .stack import LocalAws, runtime_env

__all__ = ["REGION_NAMES", "Region", "TwoRegions", "two_regions"]

#: The two regions' names: the first is "A" (the primary), the second "B".
REGION_NAMES = ("eu-west-1", "eu-central-1")


@dataclasses.dataclass
class Region:
    name: str
    moto: ManagedProcess
    aws: LocalAws
    table: object
    runtime: ManagedProcess | None = None
    base_url: str = ""
    var_dir: Path = dataclasses.field(default_factory=Path)

    def kill(self, *, runtime: bool = True, dynamodb: bool = True) -> None:
        """SIGKILL this region's runtime and/or its DynamoDB: a lost region does not drain."""
        if runtime and self.runtime is not None:
            self.runtime.signal(signal.SIGKILL)
            self.runtime.popen.wait(10)
        if dynamodb:
            self.moto.signal(signal.SIGKILL)
            self.moto.popen.wait(10)


@dataclasses.dataclass
class TwoRegions:
    a: Region
    b: Region

    def publish(self, records: Sequence[RuntimeRecord]) -> None:
        """Write ``records`` to both regions' tables (the replication step, made explicit)."""
        for region in (self.a, self.b):
            LocalAws.publish(region.table, records)


def _start_moto(tmp_path: Path, name: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    process = start_process(
        moto_server_command("127.0.0.1", port),
        env={**LOCAL_AWS_ENV, "MOTO_PORT": str(port)},
        log_path=tmp_path / f"moto-{name}.log",
    )
    return process, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def two_regions(
    tmp_path: Path, *, runtime_settings: Mapping[str, str] | None = None
) -> Iterator[TwoRegions]:
    """Both regions running: two moto servers, a table of one name in each, and a runtime per
    region whose fallback is the other region (``DYNAMODB_FALLBACK_REGION`` and
    ``DYNAMODB_FALLBACK_ENDPOINT_URL``). Everything is stopped on exit, killed or not."""
    processes: list[ManagedProcess] = []
    try:
        motos = []
        for name in REGION_NAMES:
            process, endpoint = _start_moto(tmp_path, name)
            processes.append(process)
            motos.append((process, endpoint))
        table_name = f"link-runtime-{uuid.uuid4().hex[:8]}"
        regions = []
        for name, (process, endpoint) in zip(REGION_NAMES, motos, strict=True):
            wait_for_http(f"{endpoint}/moto-api/", timeout=60, proc=process.popen)
            aws = LocalAws(endpoint, region=name)
            regions.append(Region(name, process, aws, aws.create_table(table_name)))
        for region, other in ((regions[0], regions[1]), (regions[1], regions[0])):
            region.var_dir = tmp_path / region.name
            region.var_dir.mkdir()
            port = free_port()
            env = runtime_env(
                region.aws,
                table_name=table_name,
                var_dir=region.var_dir,
                DYNAMODB_FALLBACK_REGION=other.name,
                DYNAMODB_FALLBACK_ENDPOINT_URL=other.aws.endpoint_url,
                **(runtime_settings or {}),
            )
            region.runtime = start_process(
                runtime_command("127.0.0.1", port),
                env=env,
                log_path=tmp_path / f"runtime-{region.name}.log",
            )
            processes.append(region.runtime)
            region.base_url = f"http://127.0.0.1:{port}"
        for region in regions:
            assert region.runtime is not None
            wait_for_http(f"{region.base_url}/health", timeout=30, proc=region.runtime.popen)
        yield TwoRegions(regions[0], regions[1])
    finally:
        for process in reversed(processes):
            process.stop()
