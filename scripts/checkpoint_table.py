"""Print a Markdown table of the shipped checkpoints: epochs, training time, size and referee scores.

    python scripts/checkpoint_table.py [DATASET ...]
    python scripts/checkpoint_table.py --readme     # rewrite the README's tables from the checkpoints

With --readme, in README.md and docs/*.md, every block between ``<!-- checkpoints:DATASET -->`` and
``<!-- /checkpoints:DATASET -->`` gets this table, every ``headline:DATASET`` block the README's short referee table,
every ``metrics:DATASET`` block ``checkpoints/DATASET/metrics.md`` (what ``python -m genzoo evaluate`` wrote),
and every ``likelihood:DATASET`` block the bits-per-pixel table (``python -m genzoo likelihood``), so no page drifts
from the measurements.
"""
import json
import re
import sys
from pathlib import Path

from genzoo.evaluation import fmt_number as fmt
from genzoo.registry import SPECS
from models.samplers import SamplerSettings

ROOT = Path(__file__).resolve().parent.parent


def labelled(folder: Path, ref: dict) -> dict:
    """The referee's scores with labels cycling at the app's default: the labelled set, or for a distilled model
    (scored only by sampler setting) its setting at the steps it draws with."""
    config = json.loads((folder / "config.json").read_text())
    if ref.get("labels_cycling") or "final_steps" not in config:
        return ref.get("labels_cycling") or {}
    return ref.get("samplers", {}).get(SamplerSettings("ddim", config["final_steps"]).key(config["T"]), {})


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
        ref = json.loads((folder / "referee.json").read_text()) if (folder / "referee.json").exists() else {}
        if len(h["epochs"]) < h["planned_epochs"]:
            scored = ref.get("sampling", {}).get("epoch")
            last = (f"last scored after epoch {scored}: FID {fmt((ref.get('unconditional') or {}).get('fid'))}, with "
                    f"labels {fmt((ref.get('labels_cycling') or {}).get('fid'))}" if scored else "not scored yet")
            rows.append(
                f"| {name} | in training ({len(h['epochs'])} of {h['planned_epochs']} epochs), {last} |"
                + " |" * (len(head) - 2)
            )
            continue
        minutes = sum(e["time_s"] for e in h["epochs"]) / 60
        mb = (folder / "model.safetensors").stat().st_size / 2**20
        if not ref and name != "classifier":  # trained, the referee's scores still to come
            rows.append(
                f"| {name} | {len(h['epochs'])}/{h['planned_epochs']} | {minutes:.0f} | {mb:.1f} | not scored yet |"
                + " |" * (len(head) - 5)
            )
            continue
        u, c = ref.get("unconditional") or {}, labelled(folder, ref)
        acc = c.get("cond_acc")
        if name == "classifier":   # the evaluator's own measurement: shipped weights, unshifted test images
            measured = ROOT / "checkpoints" / dataset / "metrics.json"
            acc = (json.loads(measured.read_text()).get("classifier_test_accuracy") if measured.exists()
                   else h["epochs"][-1].get("test_accuracy"))
        rows.append(
            f"| {name} | {len(h['epochs'])}/{h['planned_epochs']} | {minutes:.0f} | {mb:.1f} | {fmt(u.get('fid'))} | "
            f"{fmt(u.get('precision'))} | {fmt(u.get('recall'))} | {fmt(u.get('class_kl'), 2)} | {fmt(c.get('fid'))} | "
            f"{fmt(c.get('precision'))} | {fmt(c.get('recall'))} | {fmt(acc, 4)} | "
            f"{fmt(h['epochs'][-1].get('test_elbo'), 4)} | {fmt(h['epochs'][-1].get('test_kl'), 3)} |"
        )
    return "\n".join(rows)


def headline(dataset: str) -> str:
    """The README's short table: each scored generative model's referee FID without and with a class asked for,
    how often the class came out right, and precision / recall (with a class where the model takes one)."""
    rows = [
        "| model | FID, no class | FID, class asked | class right | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec in SPECS.items():
        path = ROOT / "checkpoints" / dataset / name / "referee.json"
        if not spec.generative or not path.exists():
            continue
        ref = json.loads(path.read_text())
        u, c = ref.get("unconditional") or {}, labelled(path.parent, ref)
        pr = c or u
        acc = f"{c['cond_acc']:.1%}" if "cond_acc" in c else ""
        rows.append(
            f"| {spec.title} | {fmt(u.get('fid'))} | {fmt(c.get('fid'))} | {acc} | {fmt(pr.get('precision'))} | "
            f"{fmt(pr.get('recall'))} |"
        )
    return "\n".join(rows)


def metrics(dataset: str) -> str:
    path = ROOT / "checkpoints" / dataset / "metrics.md"
    return path.read_text().strip() if path.exists() else "Not measured yet."


def likelihoods(dataset: str) -> str:
    """The bits-per-pixel table of ``checkpoints/DATASET/likelihood.json`` (rows still on today's weights)."""
    from genzoo.likelihood import read

    other = next(d for d in ("mnist", "fashion") if d != dataset)
    rows = ["| model | computes | bits per pixel, own test pictures | tighter bound (draws, pictures) "
            f"| bits per pixel, {other} test pictures |", "|---|---|---|---|---|"]
    for name, r in read(dataset, ROOT / "checkpoints").items():
        tight = r.get("importance_weighted")
        rows.append(f"| {SPECS[name].title} | {r['kind']} | {r['own']['bits_per_dim']:.3f} ({r['own']['n']:,}) | "
                    + (f"{tight['bits_per_dim']:.3f} (k = {tight['k']}, {tight['n']:,}; one draw "
                       f"{tight['one_draw_bits_per_dim']:.3f})" if tight else "") + " | "
                    + (f"{r[other]['bits_per_dim']:.3f}" if other in r else "") + " |")
    return "\n".join(rows) if len(rows) > 2 else "Not measured yet."


def update_readme(path: Path = ROOT / "README.md") -> list[str]:
    """Refill the README's marked blocks; returns the names of the blocks found."""
    text, found = path.read_text(), []

    def fill(m: re.Match) -> str:
        kind, dataset = m.group(1), m.group(2)
        found.append(f"{kind}:{dataset}")
        fills = {"checkpoints": table, "metrics": metrics, "headline": headline, "likelihood": likelihoods}
        body = fills[kind](dataset)
        return f"<!-- {kind}:{dataset} -->\n\n{body}\n\n<!-- /{kind}:{dataset} -->"

    text = re.sub(r"<!-- (checkpoints|metrics|headline|likelihood):(\w+) -->.*?<!-- /\1:\2 -->", fill, text,
                  flags=re.S)
    path.write_text(text)
    return found


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
            print(f"{page.relative_to(ROOT)}:", ", ".join(update_readme(page)) or "no marked blocks")
    else:
        for ds in sys.argv[1:] or ["mnist", "fashion"]:
            print(f"\n### {ds}\n\n{table(ds)}")
