"""Print a Markdown table of the shipped checkpoints: epochs, training time, size and referee scores.

    python scripts/checkpoint_table.py [DATASET ...]
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genzoo.evaluation import fmt_number as fmt  # noqa: E402
from genzoo.registry import SPECS  # noqa: E402


def table(dataset: str) -> str:
    head = ["model", "epochs", "train min", "weights MB", "FID", "precision", "recall", "class KL",
            "FID (labels)", "precision (labels)", "recall (labels)", "cond. acc", "test ELBO (nats)", "test KL"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in SPECS:
        folder = ROOT / "checkpoints" / dataset / name
        if not (folder / "history.json").exists():
            rows.append(f"| {name} | not trained yet |" + " |" * (len(head) - 2))
            continue
        h = json.loads((folder / "history.json").read_text())
        minutes = sum(e["time_s"] for e in h["epochs"]) / 60
        mb = (folder / "model.safetensors").stat().st_size / 2**20
        ref = json.loads((folder / "referee.json").read_text()) if (folder / "referee.json").exists() else {}
        u, c = ref.get("unconditional") or {}, ref.get("labels_cycling") or {}
        acc = c.get("cond_acc")
        if name == "classifier":
            acc = h["epochs"][-1].get("test_accuracy")
        rows.append(f"| {name} | {len(h['epochs'])}/{h['planned_epochs']} | {minutes:.0f} | {mb:.1f} | {fmt(u.get('fid'))} | "
                    f"{fmt(u.get('precision'))} | {fmt(u.get('recall'))} | {fmt(u.get('class_kl'), 2)} | {fmt(c.get('fid'))} | "
                    f"{fmt(c.get('precision'))} | {fmt(c.get('recall'))} | {fmt(acc, 4)} | "
                    f"{fmt(h['epochs'][-1].get('test_elbo'), 4)} | {fmt(h['epochs'][-1].get('test_kl'), 3)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    for ds in sys.argv[1:] or ["mnist", "fashion"]:
        print(f"\n### {ds}\n\n{table(ds)}")
