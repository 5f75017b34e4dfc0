"""The Basecamp server's first index load over a large S3 store: every spec read once.

Runs in this project's environment against moto's S3 server in a process of its own::

    PYTHONPATH=src:. .venv/bin/python benchmarks/index_load.py [--size 10000]

The store holds ``size`` specs (one in five under ``code/``). Two first loads in the same run,
each by a new ``IndexedSpecStore`` (what a starting replica does):

- ``baseline``: the S3 store seen through the plain ``SpecStore`` port: the index reads with its
  own 8 threads, as before;
- ``bulk``: the S3 store as the server opens it, on a bucket without a snapshot (the store's
  first replica, or one starting after many changes): 32 GETs in flight, then it writes the
  document snapshot (``ListedReads``, docs/stores.md);
- ``snapshot``: the next replica: one GET of that snapshot, checked against the listing.

Prints seconds, CPU seconds of this process, the S3 requests (counted at the boto3 client) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from basecamp_load import REGISTERED, dataset_names, moto_process
from publish import _PlainStore


def measure(size: int) -> dict[str, Any]:
    import structlog

    from dli.adapters.codecs.specs import document_to_bytes
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.adapters.stores.s3 import S3SpecStore
    from dli.domain.model.enums import SourceType
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.model.spec import DatasetSpec, SpecDocument
    from tests.support.s3_servers import client_for, s3_env

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    names = dataset_names(size)
    results: dict[str, Any] = {"size": size}
    with moto_process() as s3:
        bucket = s3.new_bucket("bench")
        client = client_for(s3)

        def put(i: int) -> None:
            source = SourceType.CODE if i % 5 == 0 else SourceType.MANUAL
            spec = DatasetSpec(
                name=names[i], owner=f"owner{i % 40}@example.com", description=f"Benchmark dataset {i}",
                query_statement=f"SELECT count(*) FROM src_{i % 97}",
                schedule=ScheduleConfig(cron=f"{i % 60} {i % 24} * * *", timezone="UTC"),
            )
            body = document_to_bytes(SpecDocument(spec=spec, source_type=source, registered_by="bench",
                                                  registered_at=REGISTERED))
            client.put_object(Bucket=bucket, Key=f"specs/{source.value}/{names[i]}.yaml", Body=body)

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(size)))
        print(f"  wrote {size} specs to moto in {time.monotonic() - started:.0f}s", flush=True)
        os.environ.update(s3_env(s3))
        for label in ("baseline", "bulk", "snapshot"):
            store = S3SpecStore.from_url(f"s3://{bucket}/specs", endpoint_url=s3.endpoint_url)
            requests: list[str] = []
            store._client.meta.events.register(
                "before-send.s3", lambda request, requests=requests, **_: requests.append(
                    "LIST" if "list-type=2" in request.url else request.method)
            )
            index = IndexedSpecStore(_PlainStore(store) if label == "baseline" else store)
            started, cpu = time.perf_counter(), time.process_time()
            report = index.check(full=True)
            out = {"seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
                   "requests": {m: requests.count(m) for m in sorted(set(requests))}, "reread": report.reread}
            results[label] = out
            print(f"  {size} specs, first index load, {label}: {out['seconds']} s ({out['cpu_seconds']} s CPU), "
                  f"requests {out['requests']}", flush=True)
    for label in ("bulk", "snapshot"):
        results[f"ratio_{label}"] = round(results["baseline"]["seconds"] / max(results[label]["seconds"], 1e-6), 1)
        print(f"  {size} specs: {label} is {results[f'ratio_{label}']}x faster than the baseline", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    args = parser.parse_args()
    print(json.dumps(measure(args.size), indent=2))


if __name__ == "__main__":
    main()
