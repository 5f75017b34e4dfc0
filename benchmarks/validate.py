"""The SQL check's cost: dli's validation of 1,000 specs of three statements each against a plain
sqlglot parse of the same statements, in the same run.

    PYTHONPATH=src python benchmarks/validate.py [--specs 1000] [--rounds 5] [--dialect trino]

Each spec has a pre statement (``DELETE ... WHERE dt = '{{ execution_date }}'``), a query (an
``INSERT ... SELECT`` with a join, a CTE and two parameters) and a post statement, each naming tables
of its own, so no cache helps. Measured, best of ``--rounds``:

- **sqlglot parse**: ``sqlglot.parse(sql, read=dialect)`` of the 3,000 statements, already rendered
  (the baseline: what any SQL check has to pay);
- **dli validate**: ``check_spec_sql`` of the 1,000 specs: Jinja rendered with the sample values,
  parsed, tables read and written extracted, ``depends_on`` compared, verdicts.

The ratio is printed (the issue's bar: at most 1.5). Then what the check adds to one ``register``
(MOCK mode, in process, warm): the same registration with and without the SQL analyzer, and the
one-time import of sqlglot a process pays on its first check.

Last, what a ``register`` process pays (the issue's bar: at most 50 ms more): one fresh Python
process per registration, its imports included, interleaved run by run, median of ``--processes``:
without the SQL check; with it and no kept verdicts (sqlglot imported, the statements parsed); with
it and the verdicts of a previous check kept (``adapters/sql/verdicts.py``: sqlglot not imported).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlglot

from dli.adapters.sql.rendering import render
from dli.adapters.sql.sqlglot_analyzer import SqlglotAnalyzer
from dli.domain.model.spec import DatasetSpec, Parameter, Statement
from dli.domain.model.sql_check import DatasetNames, sample_variables, spec_statements
from dli.domain.usecases.validate import check_spec_sql

USES_COMPILED = not sqlglot.tokens.tokenizer_core.__file__.endswith(".py")


def make_specs(count: int, dialect: str) -> list[DatasetSpec]:
    specs = []
    for i in range(count):
        name = f"lake.mart.report_{i}"
        specs.append(
            DatasetSpec(
                name=name,
                depends_on=(f"lake.raw.orders_{i}", f"lake.dim.customers_{i % 50}"),
                parameters=(
                    Parameter(name="execution_date", type="date", required=True),
                    Parameter(name="min_amount", type="integer", default=10),
                ),
                execution={"dialect": dialect},
                pre_statements=(Statement(sql=f"DELETE FROM {name} WHERE dt = '{{{{ execution_date }}}}'"),),
                query_statement=(
                    f"INSERT INTO {name}\n"
                    f"WITH recent AS (\n"
                    f"  SELECT o.customer_id, o.amount, o.region FROM lake.raw.orders_{i} AS o\n"
                    f"  WHERE o.dt = '{{{{ execution_date }}}}' AND o.amount >= {{{{ min_amount }}}}\n"
                    f")\n"
                    f"SELECT r.region, c.segment, COUNT(*) AS orders, SUM(r.amount) AS revenue,\n"
                    f"       '{{{{ execution_date }}}}' AS dt\n"
                    f"FROM recent AS r JOIN lake.dim.customers_{i % 50} AS c ON r.customer_id = c.id\n"
                    f"GROUP BY r.region, c.segment"
                ),
                post_statements=(
                    Statement(sql=f"DELETE FROM {name} WHERE dt < date_add('day', -90, DATE '{{{{ execution_date }}}}')"),
                ),
            )
        )
    return specs


def best(rounds: int, run) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def register_overhead(rounds: int) -> tuple[float, float]:
    """Seconds of one MOCK register (warm), with and without the SQL analyzer (median)."""
    import datetime as dt

    from dli.adapters.clock import FakeClock
    from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
    from dli.adapters.stores.memory import InMemorySpecStore
    from dli.domain.model.schedule import ScheduleConfig
    from dli.domain.usecases.bus import MessageBus
    from dli.domain.usecases.register import RegisterWorkflow

    spec = make_specs(1, "trino")[0]
    spec = DatasetSpec(**{**{f: getattr(spec, f) for f in ("name", "depends_on", "parameters", "execution",
                                                          "pre_statements", "query_statement", "post_statements")},
                          "schedule": ScheduleConfig(cron="0 6 * * *")})
    results = []
    for analyzer in (None, SqlglotAnalyzer()):
        times = []
        for _ in range(rounds * 20):
            clock = FakeClock(current=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            store = InMemorySpecStore()
            bus = MessageBus(store=store, orchestrator=InMemoryOrchestrator(clock=clock, store=store), clock=clock,
                             sql_analyzer=analyzer)
            start = time.perf_counter()
            bus.handle(RegisterWorkflow(spec=spec))
            times.append(time.perf_counter() - start)
        results.append(statistics.median(times))
    return results[0], results[1]


def import_cost() -> float:
    """Seconds a fresh process spends importing sqlglot and a dialect (median of 3)."""
    code = ("import time; t = time.perf_counter(); import sqlglot; sqlglot.parse('SELECT 1', read='trino'); "
            "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(3)]
    return statistics.median(runs)


_REGISTER = """
import sys, time, datetime as dt
from pathlib import Path
from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.sql import LazySqlAnalyzer
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, Parameter, Statement
from dli.domain.usecases.bus import MessageBus
from dli.domain.usecases.register import RegisterWorkflow

pre, query, post = {statements!r}
spec = DatasetSpec(
    name="lake.mart.report_0", depends_on=("lake.raw.orders_0", "lake.dim.customers_0"),
    parameters=(Parameter(name="execution_date", type="date", required=True),
                Parameter(name="min_amount", type="integer", default=10)),
    execution={{"dialect": "trino"}}, pre_statements=(Statement(sql=pre),), query_statement=query,
    post_statements=(Statement(sql=post),), schedule=ScheduleConfig(cron="0 6 * * *"))
folder = sys.argv[1]
clock = FakeClock(current=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
store = InMemorySpecStore()
analyzer = None if folder == "none" else LazySqlAnalyzer(Path(folder))
bus = MessageBus(store=store, orchestrator=InMemoryOrchestrator(clock=clock, store=store), clock=clock,
                 sql_analyzer=analyzer)
result = bus.handle(RegisterWorkflow(spec=spec))
assert "sqlglot" in sys.modules or folder == "none" or sys.argv[2] == "warm", sys.argv
assert ("sqlglot" in sys.modules) == (sys.argv[2] == "cold"), sys.argv
"""


def register_process_cost(processes: int) -> dict[str, float]:
    """Median seconds of a process that registers one spec: no check, check with no verdicts kept, kept."""
    import tempfile

    spec = make_specs(1, "trino")[0]
    code = _REGISTER.format(statements=(spec.pre_statements[0].sql, spec.query_statement, spec.post_statements[0].sql))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    kept = tempfile.mkdtemp(prefix="dli-verdicts-")

    def run(folder: str, case: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, folder, case], env=env, check=True)
        return time.perf_counter() - start

    run(kept, "cold")  # keeps the verdicts; also warms the OS cache and the .pyc files
    times: dict[str, list[float]] = {"without the check": [], "check, nothing kept": [], "check, verdicts kept": []}
    for _ in range(processes):
        times["without the check"].append(run("none", "none"))
        times["check, nothing kept"].append(run(tempfile.mkdtemp(prefix="dli-verdicts-"), "cold"))
        times["check, verdicts kept"].append(run(kept, "warm"))
    return {case: statistics.median(t) for case, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dialect", default="trino")
    parser.add_argument("--processes", type=int, default=15)
    args = parser.parse_args()

    specs = make_specs(args.specs, args.dialect)
    rendered = [render(s.sql, sample_variables(spec)) for spec in specs for s in spec_statements(spec)]
    analyzer = SqlglotAnalyzer()
    managed = DatasetNames.of(spec.name for spec in specs)  # built once, as the validate handler does
    # Warm both paths once (dialect classes, Jinja's environment) before timing.
    check_spec_sql(specs[0], analyzer, managed=managed)
    sqlglot.parse(rendered[0], read=args.dialect)

    def plain() -> None:
        for sql in rendered:
            sqlglot.parse(sql, read=args.dialect)

    def validate() -> None:
        for spec in specs:
            report = check_spec_sql(spec, analyzer, managed=managed)
            assert not report.errors, report.errors

    # Rounds alternate (parse, validate, parse, ...): on a shared machine both see the same load.
    base_times, ours_times = [], []
    for _ in range(args.rounds):
        base_times.append(best(1, plain)[0])
        ours_times.append(best(1, validate)[0])
    base_best, base_median = min(base_times), statistics.median(base_times)
    ours_best, ours_median = min(ours_times), statistics.median(ours_times)
    print(f"sqlglot {sqlglot.__version__} ({'compiled, sqlglotc' if USES_COMPILED else 'pure Python'}), "
          f"dialect {args.dialect}, {len(specs)} specs x 3 statements = {len(rendered)} statements, "
          f"best of {args.rounds}")
    print(f"  sqlglot parse (baseline): {base_best * 1000:8.1f} ms  (median {base_median * 1000:.1f} ms), "
          f"{base_best / len(rendered) * 1e6:.0f} us/statement")
    print(f"  dli validate:             {ours_best * 1000:8.1f} ms  (median {ours_median * 1000:.1f} ms), "
          f"{ours_best / len(rendered) * 1e6:.0f} us/statement")
    print(f"  ratio validate / parse:   {ours_best / base_best:8.2f}  (bar: <= 1.5)")
    without, with_check = register_overhead(args.rounds)
    print(f"register (MOCK, in process, warm; median): {without * 1000:.2f} ms without the SQL check, "
          f"{with_check * 1000:.2f} ms with it (+{(with_check - without) * 1000:.2f} ms)")
    print(f"one-time import of sqlglot + a dialect in a fresh process: {import_cost() * 1000:.0f} ms "
          "(paid by the first check of a process; the server imports it at start)")
    costs = register_process_cost(args.processes)
    base = costs["without the check"]
    print(f"register process (MOCK, fresh interpreter each; median of {args.processes}, "
          f"load average {os.getloadavg()[0]:.2f}):")
    for case, seconds in costs.items():
        print(f"  {case:22} {seconds * 1000:7.1f} ms  (+{(seconds - base) * 1000:6.1f} ms, {seconds / base:.2f}x)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
