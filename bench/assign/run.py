#!/usr/bin/python3
"""bench/assign: mapd's exact k-NN vs scikit-learn's batched predict_proba and one NumPy GEMM of
the same shape (the arithmetic floor), on the same arrays, in one script.

usage: /usr/bin/python3 bench/assign/run.py BUILD_DIR [N ...] [--from-run RUN_DIR]
       (default N: 100000 1280000)
--from-run uses a recorded run instead of synthetic curves: its fit-half probes and its query
trajectories (train rows and val probes of RUN_DIR/dynamics.h5, all committed epochs) repeated up to
N rows -- real losses, which synthetic curves do not imitate (near-zero losses of easy examples).
Prints one JSON line per N and a markdown table. Needs python3-sklearn and numpy (Debian).
"""
import json, os, resource, subprocess, sys, tempfile, time
import numpy as np

T, FIT, C, K, REPEATS, BATCH = 100, 1500, 6, 20, 3, 16384


def make_arrays(d, n, rng):
    # Loss-like trajectories: decaying curves with per-example rates plus noise (gamma-ish, >= 0).
    t = np.arange(T, dtype=np.float32) / T
    def traj(m):
        out = np.empty((m, T), dtype=np.float32)
        for s in range(0, m, 200000):
            e = min(m, s + 200000)
            rate = rng.uniform(0.5, 12.0, size=(e - s, 1)).astype(np.float32)
            amp = rng.uniform(0.5, 3.5, size=(e - s, 1)).astype(np.float32)
            out[s:e] = amp * np.exp(-rate * t) + rng.gamma(1.0, 0.05, size=(e - s, T)).astype(np.float32)
        return out
    fit = traj(FIT)
    cat = rng.integers(0, C, size=FIT).astype(np.int32)
    fit.tofile(os.path.join(d, "fit.f32"))
    cat.tofile(os.path.join(d, "cat.i32"))
    q = np.lib.format.open_memmap(os.path.join(d, "q.npy"), mode="w+", dtype=np.float32, shape=(n, T))
    for s in range(0, n, 200000):
        q[s:min(n, s + 200000)] = traj(min(n, s + 200000) - s)
    q.flush()
    # Raw copy for the C++ side (mmap-able, no header).
    np.asarray(q).tofile(os.path.join(d, "query.f32"))
    return fit, cat, np.load(os.path.join(d, "q.npy"), mmap_mode="r")


def arrays_from_run(d, n, run):
    import h5py
    global T, FIT, C
    with h5py.File(os.path.join(run, "dynamics.h5"), "r") as f:
        role = f["/examples/role"][:]
        cat_all = f["/examples/probe_category"][:]
        committed = int(np.asarray(f["/epochs/complete"]).reshape(-1)[0])
        loss = f["/epochs/loss"][:committed].astype(np.float32).T
        C = len(f["/examples"].attrs["category_names"])
    fit = np.ascontiguousarray(loss[role == 1])
    cat = cat_all[role == 1].astype(np.int32)
    base = loss[role != 1]
    T, FIT = loss.shape[1], fit.shape[0]
    fit.tofile(os.path.join(d, "fit.f32"))
    cat.tofile(os.path.join(d, "cat.i32"))
    q = np.lib.format.open_memmap(os.path.join(d, "q.npy"), mode="w+", dtype=np.float32, shape=(n, T))
    for s in range(0, n, len(base)):
        q[s:min(n, s + len(base))] = base[:min(n, s + len(base)) - s]
    q.flush()
    np.asarray(q).tofile(os.path.join(d, "query.f32"))
    return fit, cat, np.load(os.path.join(d, "q.npy"), mmap_mode="r")


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        s = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - s)
    return sorted(times)[len(times) // 2], out


def main():
    args = sys.argv[2:]
    run = None
    if "--from-run" in args:
        i = args.index("--from-run")
        run = args[i + 1]
        args = args[:i] + args[i + 2:]
    build = sys.argv[1]
    sizes = [int(a) for a in args] or [100000, 1280000]
    from sklearn.neighbors import KNeighborsClassifier
    try:
        from threadpoolctl import threadpool_info
        blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
    except Exception:  # threadpoolctl is optional
        blas = "unknown"
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP", "/tmp")) as d:
            fit, cat, q = arrays_from_run(d, n, run) if run else make_arrays(d, n, rng)
            out = subprocess.run([os.path.join(build, "bench", "assign", "bench_assign"), d, str(n), str(T), str(FIT),
                                  str(C), str(K), str(REPEATS)], check=True, capture_output=True, text=True)
            mapd = json.loads(out.stdout.strip().splitlines()[-1])
            model = KNeighborsClassifier(n_neighbors=K).fit(fit, cat)

            def sk():
                return np.concatenate([model.predict_proba(q[s:s + BATCH]) for s in range(0, n, BATCH)])

            sk_reps = REPEATS if n <= 200000 else 1
            sk_s, sk_p = median_time(sk, sk_reps)
            fit_t = np.ascontiguousarray(fit.T)

            def gemm():
                for s in range(0, n, BATCH):
                    np.dot(q[s:s + BATCH], fit_t)

            gemm_s, _ = median_time(gemm, REPEATS)
            mapd_p = np.fromfile(os.path.join(d, "mapd_prob.f32"), dtype=np.float32).reshape(n, C)
            differ = int((np.abs(mapd_p - sk_p).max(axis=1) > 1e-6).sum())
            row = dict(n=n, t=T, fit=FIT, k=K, mapd_s=mapd["seconds"], sklearn_s=sk_s, gemm_s=gemm_s,
                       speedup_vs_sklearn=sk_s / mapd["seconds"], ratio_to_gemm=mapd["seconds"] / gemm_s,
                       mapd_peak_rss_mb=mapd["peak_rss_mb"],
                       python_peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                       differ_from_sklearn=differ, boundary_ties=mapd["boundary_ties"],
                       rescanned=mapd["rescanned"], sklearn_repeats=sk_reps, repeats=REPEATS)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("blas:", blas)
    print("| N | mapd s | sklearn s | GEMM floor s | mapd vs sklearn | mapd / GEMM | mapd peak RSS MB | differ |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['mapd_s']:.2f} | {r['sklearn_s']:.2f} | {r['gemm_s']:.2f} | "
              f"{r['speedup_vs_sklearn']:.2f}x | {r['ratio_to_gemm']:.2f}x | {r['mapd_peak_rss_mb']:.0f} | "
              f"{r['differ_from_sklearn']} ({r['boundary_ties']} ties) |")


if __name__ == "__main__":
    main()
