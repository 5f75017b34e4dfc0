"""What ``dli workflow publish`` of a large project costs on S3: 1,000 new specs, then the same
project again (nothing changed).

Runs in this project's environment against moto's S3 server in a process of its own::

    PYTHONPATH=src:. .venv/bin/python benchmarks/publish.py [--sizes 1000] [--repeat 1]

Two stores in the same run, each on a fresh bucket:

- ``sequential`` (the baseline): the store seen only through the plain ``SpecStore`` port, as
  publish used it before: one request at a time, and an unchanged publish reads every document back.
- ``concurrent``: the S3 store as dli opens it (``BulkSpecStore``: 32 requests in flight;
  ``PublishedSpecIndex``: an unchanged document is recognised from its etag, not read).

Prints seconds, CPU seconds of this process and the S3 requests (counted at the boto3 client, by
kind), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from basecamp_load import moto_process


class _PlainStore:
    """The S3 store through the SpecStore port only: what publish did before bulk calls."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.url = inner, inner.url

    def list_etags(self, source: Any) -> Any:
        return self.inner.list_etags(source)

    def read(self, source: Any, name: str) -> Any:
        return self.inner.read(source, name)

    def create(self, source: Any, document: Any) -> Any:
        return self.inner.create(source, document)

    def replace(self, source: Any, document: Any, *, etag: str) -> Any:
        return self.inner.replace(source, document, etag=etag)

    def delete(self, source: Any, name: str) -> Any:
        return self.inner.delete(source, name)


def write_project(root: Path, size: int) -> None:
    import yaml

    from dli.adapters.codecs.specs import spec_to_dict
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec

    (root / "models").mkdir(parents=True)
    (root / "dli.yaml").write_text("")
    for i in range(size):
        spec = DatasetSpec(
            name=f"scale.gen.d{i:04d}", owner=f"owner{i % 40}@example.com", description=f"Generated dataset {i}",
            query_statement=f"SELECT count(*) FROM src_{i % 97} WHERE part = {i}",
            schedule=ScheduleConfig(cron=f"{i % 60} {i % 24} * * *", timezone="UTC"),
        )
        (root / "models" / f"dataset.{spec.name}.yaml").write_text(yaml.safe_dump(spec_to_dict(spec), sort_keys=False))


def measure(size: int) -> dict[str, Any]:
    import structlog

    from dli.adapters.clock import SystemClock
    from dli.adapters.local_project import FilesystemProject
    from dli.adapters.stores.s3 import S3SpecStore
    from dli.domain.usecases.bus import MessageBus
    from dli.domain.usecases.publish import PublishSpecs
    from tests.support.s3_servers import s3_env

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    results: dict[str, Any] = {"size": size}
    with tempfile.TemporaryDirectory() as tmp, moto_process() as s3:
        project = Path(tmp) / "project"
        write_project(project, size)
        import os

        os.environ.update(s3_env(s3))
        for label in ("sequential", "concurrent"):
            bucket = s3.new_bucket("bench")
            s3_store = S3SpecStore.from_url(f"s3://{bucket}/specs", endpoint_url=s3.endpoint_url)
            requests: list[str] = []

            def count(request: Any, **_: Any) -> None:
                requests.append("LIST" if "list-type=2" in request.url else request.method)  # noqa: B023

            s3_store._client.meta.events.register("before-send.s3", count)
            store = _PlainStore(s3_store) if label == "sequential" else s3_store
            bus = MessageBus(store=store, local_specs=FilesystemProject(project), clock=SystemClock())
            for run in ("new", "unchanged"):
                requests.clear()
                started, cpu = time.perf_counter(), time.process_time()
                result = bus.handle(PublishSpecs(actor="bench"))
                out = {
                    "seconds": round(time.perf_counter() - started, 3),
                    "cpu_seconds": round(time.process_time() - cpu, 3),
                    "requests": {m: requests.count(m) for m in sorted(set(requests))},
                    "summary": {k: v for k, v in result.summary.items() if v},
                }
                results[f"{label}_{run}"] = out
                print(f"  {size} specs, {label}, {run}: {out['seconds']} s ({out['cpu_seconds']} s CPU), "
                      f"requests {out['requests']}, {out['summary']}", flush=True)
    for run in ("new", "unchanged"):
        ratio = results[f"sequential_{run}"]["seconds"] / max(results[f"concurrent_{run}"]["seconds"], 1e-6)
        results[f"ratio_{run}"] = round(ratio, 1)
        print(f"  {size} specs, {run}: concurrent is {results[f'ratio_{run}']}x faster than sequential", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000", help="comma-separated project sizes")
    args = parser.parse_args()
    results = [measure(int(size)) for size in args.sizes.split(",")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
