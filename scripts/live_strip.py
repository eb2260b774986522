"""A real 60-second run of "Train it yourself" for each model on each dataset: a strip of the 16 fixed-noise samples
every 10 s of computing, written to docs/live/, with each run's steps and CPU time.

    python scripts/live_strip.py [SECONDS]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from genzoo.imaging import grid_pil, labelled_rows
from genzoo.live import LiveRun
from genzoo.zoo import load_subset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "live"


def main(argv: list[str]) -> None:
    seconds = float(argv[0]) if argv else 60.0
    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    record = {}
    for dataset in ("mnist", "fashion"):
        images = load_subset(ROOT / "checkpoints" / dataset / "data_subset.npz").train_images
        for family, lr in (("vae", 1e-3), ("gan", 2e-4)):
            run = LiveRun(images, family, lr, budget_s=seconds)
            rows = [("start (step 0)", grid_pil(run.samples(), nrow=16, scale=2))]
            mark = 10.0
            while run.left_s > 0:
                run.work(1.0)
                if run.used_s >= mark or run.left_s <= 0:
                    rows.append((f"{run.used_s:.0f} s (step {run.step})", grid_pil(run.samples(), nrow=16, scale=2)))
                    mark += 10.0
            labelled_rows(rows, label_width=170).save(OUT / f"{dataset}-{family}.png")
            last = {k: round(v[-1], 3) for k, v in run.curves.values.items()}
            record[f"{dataset}/{family}"] = {"steps": run.step, "computing_s": round(run.used_s, 1),
                                             "cpu_s": round(run.cpu_s, 1), "threads": 2, "last": last}
            print(dataset, family, record[f"{dataset}/{family}"], flush=True)
    (OUT / "runs.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
