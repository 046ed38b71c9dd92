"""Compares two `msao-host eval --json --records` runs of the same questions on two CPUs.

    python3 scripts/cross_isa_compare.py BASE OTHER     (paths without .json / .jsonl)

Tolerances (the issue's targets; the measured spread is far inside them, see
calibration/REPORT.md "INT8 on every CPU"): every model's accuracy within 0.3 points, MAS
keep-masks equal on at least 99 % of questions. Prints how many answers, masks and
confidences are identical too. Exit 1 when a tolerance is broken, 2 on unusable input.
"""

import json
import sys

ACCURACY_POINTS = 0.3
MASK_AGREEMENT = 0.99


def load(stem):
    with open(stem + ".json") as f:
        report = json.load(f)
    with open(stem + ".jsonl") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return report, records


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    (ra, a), (rb, b) = load(sys.argv[1]), load(sys.argv[2])
    if len(a) != len(b) or [r["index"] for r in a] != [r["index"] for r in b]:
        print(f"the runs cover different questions ({len(a)} vs {len(b)})", file=sys.stderr)
        return 2
    n = len(a)
    cpu = lambda r: f"{r['cpu']['arch']}, {r['cpu']['int8_kernels']}"  # noqa: E731
    print(f"{sys.argv[2]} ({cpu(rb)}) vs {sys.argv[1]} ({cpu(ra)}), {n} questions")
    ok = True
    acc_b = {m["model"]: m["accuracy"] for m in rb["models"]}
    for m in ra["models"]:
        other = acc_b.get(m["model"])
        if other is None:
            print(f"  {m['model']}: missing in {sys.argv[2]}")
            ok = False
            continue
        diff = 100.0 * (other - m["accuracy"])
        good = abs(diff) <= ACCURACY_POINTS
        ok &= good
        print(f"  {m['model']:<20} {100 * m['accuracy']:6.2f} % vs {100 * other:6.2f} %  "
              f"({diff:+.2f} pt, limit ±{ACCURACY_POINTS})  {'ok' if good else 'FAIL'}")
    masks = sum(x["keep_mask"] == y["keep_mask"] for x, y in zip(a, b)) / n
    good = masks >= MASK_AGREEMENT
    ok &= good
    print(f"  keep-masks equal      {100 * masks:6.2f} % (limit ≥ {100 * MASK_AGREEMENT:.0f} %)  {'ok' if good else 'FAIL'}")
    for key in ("edge_int8", "edge_fp32", "edge_int8_views", "cloud_compact", "cloud_dense"):
        same = sum(x[key] == y[key] for x, y in zip(a, b))
        print(f"  {key:<20}  answers identical on {same}/{n}")
    conf = max(abs(x["confidence"] - y["confidence"]) for x, y in zip(a, b))
    print(f"  confidence           max |Δ| {conf:.3g}")
    print("  " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
