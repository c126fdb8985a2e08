"""How long printing a warning slip takes.

    python benchmarks/bench_slip.py [--runs 200] [--cold-runs 3]

Measures
- the first slip after process start, in fresh processes: import, font registration,
  first build (what the first customer of the day waits for);
- warm slips (median of --runs builds) with our QR code, for a repeated reference (reprint,
  QR path cached) and for a new reference each time (the normal case: one segno encode);
- baselines in the same run: the same slip without any QR code, and with reportlab's
  QrCodeWidget, printed as ratios;
- the 80 mm roll and the police alert, for scale.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLD_SNIPPET = """
import json, time
start = time.perf_counter()
from teller_guard.printing import build_slip, setup_font
from teller_guard.printing.samples import sample_slip
imported = time.perf_counter()
status = setup_font()
registered = time.perf_counter()
pdf = build_slip(sample_slip())
done = time.perf_counter()
print(json.dumps({"import": imported - start, "font": registered - imported,
                  "first_slip": done - registered, "total": done - start,
                  "font_path": status.path, "embedded": status.embedded, "bytes": len(pdf)}))
"""


def cold_start(runs: int) -> dict:
    results = []
    root = Path(__file__).resolve().parent.parent
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", COLD_SNIPPET],
            cwd=root, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(root)},
        ).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    summary = {
        key: statistics.median(r[key] for r in results)
        for key in ("import", "font", "first_slip", "total")
    }
    summary.update({key: results[0][key] for key in ("font_path", "embedded", "bytes")})
    return summary


def timed(build, runs: int) -> list[float]:
    build(0)  # warm-up: styles, font subsets, code paths
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        build(i)
        samples.append(time.perf_counter() - start)
    return samples


@contextlib.contextmanager
def qr_factory(factory):
    """Swap the slip's QR flowable (the module-level hook in slip.py)."""
    from teller_guard.printing import slip

    original = slip.make_qr_flowable
    slip.make_qr_flowable = factory
    try:
        yield
    finally:
        slip.make_qr_flowable = original


def no_qr(reference, size):
    from reportlab.platypus import Spacer

    return Spacer(size, size)


def reportlab_widget_qr(reference, size):
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(reference, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def describe(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(samples) * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="warm builds per variant")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes for cold start")
    args = parser.parse_args()

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    cold = cold_start(args.cold_runs)
    print(f"font: {cold['font_path'] or 'STSong-Light (not embedded)'}; "
          f"A5 slip {cold['bytes']:,} bytes")
    print(
        f"first slip after process start (median of {args.cold_runs} processes): "
        f"import {cold['import'] * 1000:.0f} ms + font registration {cold['font'] * 1000:.0f} ms "
        f"+ first build {cold['first_slip'] * 1000:.0f} ms = {cold['total'] * 1000:.0f} ms"
    )

    from teller_guard.printing import build_police_alert, build_slip, setup_font
    from teller_guard.printing.samples import sample_alert, sample_slip

    setup_font()
    slip = sample_slip()
    slips = [sample_slip(reference=f"TG-20261130-{i:06d}") for i in range(args.runs + 1)]

    results = {}
    results["A5, our QR, new reference each slip"] = timed(
        lambda i: build_slip(slips[i]), args.runs
    )
    results["A5, our QR, same reference (cached)"] = timed(lambda i: build_slip(slip), args.runs)
    with qr_factory(no_qr):
        results["A5, no QR (baseline)"] = timed(lambda i: build_slip(slips[i]), args.runs)
    with qr_factory(reportlab_widget_qr):
        results["A5, reportlab QrCodeWidget (baseline)"] = timed(
            lambda i: build_slip(slips[i]), args.runs
        )
    results["80 mm roll, our QR, new reference"] = timed(
        lambda i: build_slip(slips[i], paper="roll80"), args.runs
    )
    results["police alert (A4)"] = timed(lambda i: build_police_alert(sample_alert()),
                                         max(20, args.runs // 4))

    print(f"\nwarm builds ({args.runs} each, alert {max(20, args.runs // 4)}):")
    for name, samples in results.items():
        print(f"  {name:<40} {describe(samples)}")

    ours = statistics.median(results["A5, our QR, new reference each slip"])
    no_qr_median = statistics.median(results["A5, no QR (baseline)"])
    widget = statistics.median(results["A5, reportlab QrCodeWidget (baseline)"])
    print("\nratios (median, A5, new reference each slip):")
    print(f"  our QR / no QR            {ours / no_qr_median:5.2f}x "
          f"(QR costs {(ours - no_qr_median) * 1000:.2f} ms)")
    print(f"  QrCodeWidget / our QR     {widget / ours:5.2f}x "
          f"(widget costs {(widget - no_qr_median) * 1000:.2f} ms)")
    target = 0.010
    verdict = "meets" if ours <= target else "MISSES"
    print(f"  warm median {ours * 1000:.2f} ms {verdict} the 10 ms target")


if __name__ == "__main__":
    main()
