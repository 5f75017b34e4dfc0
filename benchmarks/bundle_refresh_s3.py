"""What a DAG bundle refresh costs on S3 after one change: following the store's change feed
against listing every key (what each refresh did before the feed).

Runs in this project's environment (the bundle's sync imports no Airflow), against moto's S3
server in a process of its own::

    PYTHONPATH=src:. .venv/bin/python benchmarks/bundle_refresh_s3.py [--sizes 1000,10000] [--shards 256]

For each size: the first sync (lists the store, downloads every spec into the disk cache, writes
the shard files); then one spec changed through dli (as ``register`` or ``publish`` write it) and
the refresh that follows, twice: with the bundle's store (reads the change feed) and, as the
baseline in the same run, with a store that lists every key at each refresh. Prints seconds, CPU
seconds of this process and the S3 requests (counted at the boto3 client), and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from basecamp_load import REGISTERED, dataset_names, moto_process  # noqa: E402


class _ListingOnly:
    """The S3 store without its change feed: the disk cache then lists at every refresh, as before."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.url = inner, inner.url

    def list_etags(self, source: Any) -> Any:
        return self.inner.list_etags(source)

    def read(self, source: Any, name: str) -> Any:
        return self.inner.read(source, name)


def measure(size: int, shards: int) -> dict[str, Any]:
    import attrs
    import structlog

    from dli.adapters.codecs.specs import document_to_bytes
    from dli.adapters.stores.cached import DiskCachedSpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, SpecDocument
    from dli.entrypoints.airflow.shards import sync_bundle
    from dli.entrypoints.bootstrap import build_factory_store, build_store
    from tests.support.s3_servers import client_for

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    names = dataset_names(size)
    with moto_process() as s3:
        bucket = s3.new_bucket("bundle")
        client = client_for(s3)

        def put(i: int) -> None:
            spec = DatasetSpec(name=names[i], owner="bench@example.com", query_statement="SELECT 1",
                               schedule=ScheduleConfig(cron=f"{i % 60} {i % 24} * * *", timezone="UTC"))
            body = document_to_bytes(SpecDocument(spec=spec, source_type=SourceType.MANUAL, registered_by="bench",
                                                  registered_at=REGISTERED))
            client.put_object(Bucket=bucket, Key=f"specs/manual/{names[i]}.yaml", Body=body)

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(size)))
        os.environ.update(s3.env())
        url = f"s3://{bucket}/specs"
        writer = build_store(url)
        scratch = Path(tempfile.mkdtemp(prefix="bundle-bench-"))
        requests: list[str] = []

        def counted(store: Any) -> Any:
            s3_store = store.inner.inner if isinstance(store.inner, _ListingOnly) else store.inner
            s3_store._client.meta.events.register(  # noqa: SLF001 - counting what reaches S3
                "before-send.s3", lambda request, **_: requests.append("LIST" if "list-type=2" in request.url else request.method)
            )
            return store

        def timed(label: str, run) -> dict[str, Any]:
            requests.clear()
            started, cpu = time.perf_counter(), time.process_time()
            report = run()
            out = {"seconds": round(time.perf_counter() - started, 3), "cpu_seconds": round(time.process_time() - cpu, 3),
                   "requests": {m: requests.count(m) for m in sorted(set(requests))}, "written": len(report.written)}
            print(f"  {size} specs, {label}: {out['seconds']} s ({out['cpu_seconds']} s CPU), requests {out['requests']}, "
                  f"{out['written']} shard file(s) written", flush=True)
            return out

        def change(i: int) -> None:
            current = writer.read(SourceType.MANUAL, names[i])
            spec = attrs.evolve(current.document.spec, description=f"changed {time.time()}")
            writer.replace(SourceType.MANUAL, attrs.evolve(current.document, spec=spec), etag=current.etag)

        feed_store = counted(build_factory_store(url, cache_dir=scratch / "cache"))
        listing_store = counted(DiskCachedSpecStore(_ListingOnly(build_store(url)), cache_dir=scratch / "cache"))
        report: dict[str, Any] = {"size": size, "shards": shards}
        first = sync_bundle(scratch / "feed", feed_store, store_url=url, shards=shards)
        report["first_sync"] = {"datasets": first.datasets}
        last_list = sync_bundle(scratch / "list", listing_store, store_url=url, shards=shards)
        change(7)
        report["feed"] = timed("one change, refresh following the change feed",
                               lambda: sync_bundle(scratch / "feed", feed_store, store_url=url, shards=shards, last=first.index))
        report["listing"] = timed("baseline: the same change, refresh listing every key",
                                  lambda: sync_bundle(scratch / "list", listing_store, store_url=url, shards=shards,
                                                      last=last_list.index))
        report["ratio_seconds"] = round(report["listing"]["seconds"] / max(report["feed"]["seconds"], 1e-3), 1)
        print(f"  {size} specs: following the feed is {report['ratio_seconds']}x faster than listing", flush=True)
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--shards", type=int, default=256)
    args = parser.parse_args()
    results = [measure(int(size), args.shards) for size in args.sizes.split(",")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
