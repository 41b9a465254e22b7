"""Benchmark: analysis that streams, and sampling on a local Ray cluster.

    python benchmarks/scale.py analysis [--rows 1e6,1e7,1e8]
    python benchmarks/scale.py ray [--tasks 16 --k 64]

(a) analysis: stores of 10^6, 10^7 and 10^8 verdict rows (generated as in benchmarks/analysis.py,
500 samples per task), each analysed by `tether compare` in a fresh process: seconds and peak RSS,
with time per 10^7 rows and memory relative to the smallest store (linear time, flat memory).
(b) ray: the same run (a tiny Llama, 4 layers x 128, on CPU) sampled by one
process, and on a local Ray cluster with 1 and 2 workers; samples per second, ratios against the
single process, and a check that all three stores hold identical samples.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _analysis_module():
    spec = importlib.util.spec_from_file_location("analysis_bench", HERE / "analysis.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def analysis(rows_list: list[int]) -> None:
    bench = _analysis_module()
    results = []
    for rows in rows_list:
        work = Path(tempfile.mkdtemp(prefix="tether-scale-"))
        try:
            tasks = rows // (2 * 500)
            start = time.perf_counter()
            bench.generate(work / "store", tasks, 500)
            generated = time.perf_counter() - start
            measured = bench.run_child("tether", work / "store")
            results.append((rows, generated, measured))
            print(f"  {rows:>13,} rows: generated in {generated:.0f} s; compare {measured['seconds']:.2f} s, "
                  f"{measured['peak_rss_mib']:.0f} MiB", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    first = results[0][2]
    print("\nanalysis that streams: tether compare (counts + all metrics, 1000 bootstrap reps)")
    print(f"{'rows':>13} {'seconds':>9} {'s per 10^7 rows':>16} {'peak RSS MiB':>13} {'RSS / smallest':>15}")
    for rows, _, m in results:
        print(f"{rows:>13,} {m['seconds']:9.2f} {m['seconds'] / rows * 1e7:16.2f} {m['peak_rss_mib']:13.0f} "
              f"{m['peak_rss_mib'] / first['peak_rss_mib']:15.2f}")


def ray_sampling(n_tasks: int, k: int) -> None:
    import pyarrow.parquet as pq
    import ray
    from ray.cluster_utils import Cluster

    from tether.engines import Decoding, EngineSpec
    from tether.engines.transformers_engine import TransformersEngine
    from tether.lab.checkpoint import char_tokenizer, save_checkpoint, tiny_llama
    from tether.sampling import SamplingConfig, sample, sample_distributed
    from tether.scale import RayExecutor, RayOptions
    from tether.tasks import load_tasks

    work = Path(tempfile.mkdtemp(prefix="tether-scale-ray-"))
    tokenizer = char_tokenizer("0123456789+=:-, abcdefghijklmnopqrstuvwxyz")
    model = save_checkpoint(tiny_llama(len(tokenizer), hidden=128, layers=4, seed=1), tokenizer, work / "model")
    tasks = load_tasks(f"lab-sums:2-{n_tasks + 1}")
    config = SamplingConfig(k=k, decoding=Decoding(1.0, 1.0, 32), seed=0, task_block=2, sample_block=32)
    options = {"template": "plain", "batch_size": 64}

    def rows(store):
        table = pq.read_table(store / "samples" / "m")
        return sorted(zip(*(table.column(c).to_pylist() for c in ("task_id", "sample_idx", "completion"))))

    timings = {}
    try:
        start = time.perf_counter()
        sample(tasks, TransformersEngine(str(model), **options), work / "one", "m", config)
        timings["single process"] = time.perf_counter() - start
        node = {"num_cpus": 1, "object_store_memory": 100 * 1024**2}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        cluster.add_node(**node)
        ray.init(address=cluster.address, log_to_driver=False)
        for workers in (1, 2):
            start = time.perf_counter()
            sample_distributed(tasks, EngineSpec("transformers", str(model), options), work / f"ray{workers}", "m",
                               config, RayExecutor(RayOptions(workers=workers)))
            timings[f"Ray, {workers} worker{'s' if workers > 1 else ''}"] = time.perf_counter() - start
        ray.shutdown()
        cluster.shutdown()
        same = rows(work / "one") == rows(work / "ray1") == rows(work / "ray2")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = n_tasks * k
    base = timings["single process"]
    print(f"\nsampling {n_tasks} tasks x {k} samples x 32 tokens, tiny Llama on CPU ({total:,} samples); "
          "Ray times include starting the workers")
    print(f"{'':22} {'seconds':>8} {'samples/s':>10} {'vs single':>10}")
    for name, seconds in timings.items():
        print(f"{name:22} {seconds:8.1f} {total / seconds:10.0f} {base / seconds:9.2f}x")
    print(f"identical samples in all three stores: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["analysis", "ray"])
    parser.add_argument("--rows", default="1e6,1e7,1e8")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--k", type=int, default=256)
    args = parser.parse_args()
    if args.part == "analysis":
        analysis([int(float(r)) for r in args.rows.split(",")])
    else:
        ray_sampling(args.tasks, args.k)


if __name__ == "__main__":
    sys.exit(main())
