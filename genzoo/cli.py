"""``python -m genzoo train|sample ...``: the command-line interface."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .data import DATASETS, DataError

DEVICE_ARG = dict(default="cpu", choices=["auto", "cpu", "cuda"])
RESUMABLE_SAMPLING = ("the pictures drawn so far are saved (every minute); run the same command again to continue "
                      "where it stopped")


def _train(args) -> None:
    from .registry import get_spec, training_order
    from .training import TrainOptions, train

    names = training_order() if args.all else [args.model]
    datasets = list(DATASETS) if args.dataset == "all" else [args.dataset]
    for dataset in datasets:
        for name in names:
            spec = get_spec(name)
            t0 = time.time()
            folder = train(TrainOptions(dataset=dataset, model=name, epochs=args.epochs, batch_size=args.batch_size,
                                        device=args.device, data_root=args.data_root, out_root=args.out,
                                        resume=args.resume, smoke=args.smoke, seed=args.seed, threads=args.threads,
                                        progress=not args.no_progress))
            print(f"{dataset}/{spec.name}: saved to {folder} ({(time.time() - t0) / 60:.1f} min)")


def _load(args, able, why: str):
    """The model a command works on, checked for what the command needs (``able``), on ``--threads`` threads."""
    import torch

    from .checkpoints import load_model
    from .training import resolve_device

    model = load_model(args.dataset, args.model, root=args.checkpoints,
                       map_location=str(resolve_device(args.device)))
    if not able(model):
        raise ValueError(why)
    if args.threads:
        torch.set_num_threads(args.threads)
    return model


def _sample(args) -> None:
    from .data import dataset_info
    from .registry import sampler_options
    from .sampling import partial_path, resolve_labels, sample_batched, write_samples

    model = _load(args, lambda m: m.generative, f"{args.model} is not a generative model")
    label = args.labels if args.labels else args.label
    labels = resolve_labels(model, args.n, label)
    given = {k: v for k, v in dict(sampler=args.sampler, steps=args.steps, eta=args.eta, guidance=args.guidance).items()
             if v is not None}
    default = sampler_options(args.model, args.dataset, args.sampler)     # the app's settings; {} if it has none
    if given and not default:
        raise ValueError(f"--sampler/--steps/--eta/--guidance apply to diffusion models only, not {args.model}")
    options = {**default, **given}
    if labels is None and model.conditional:        # no class asked: classes in the training set's proportions
        options["class_prior"] = dataset_info(args.dataset).class_prior
    t0 = time.time()
    partial = partial_path(Path(args.out))
    images, drawn = sample_batched(model, args.n, labels, seed=args.seed, batch_size=args.batch_size,
                                   progress=not args.no_progress, precision=args.precision, resume=partial, **options)
    out = write_samples(images, drawn, args.out)
    partial.unlink(missing_ok=True)
    print(f"wrote {len(images)} samples to {out} ({time.time() - t0:.1f} s)")


def _reconstruct(args) -> None:
    from .data import load_split, to_unit
    from .sampling import reconstruct_batched, write_samples

    model = _load(args, lambda m: m.can_encode,
                  f"{args.model} has no encoder, so it cannot rebuild pictures (try an autoencoder or a VAE)")
    images, labels = load_split(args.dataset, False, args.data_root)
    images, labels = images[:args.n], labels[:args.n]
    out = reconstruct_batched(model, to_unit(images), labels if model.conditional else None)
    print(f"wrote {len(out)} reconstructions of test pictures to {write_samples(out, labels, args.out)}")


def _evaluate(args) -> None:
    from .evaluation import evaluate

    for dataset in (list(DATASETS) if args.dataset == "all" else [args.dataset]):
        path = evaluate(
            dataset,
            args.models,
            n=args.n,
            seed=args.seed,
            data_root=args.data_root,
            root=args.checkpoints,
            progress=not args.no_progress,
            latency_batches=args.latency_batches,
            skip_slow=args.skip_slow,
            latency_budget_s=args.latency_budget,
            samples_dir=Path(args.samples) / dataset if args.samples else None,
            precision=args.precision,
            curve_n=args.curve_n,
            stale_only=args.stale_only,
            timing=not args.no_timing,
            curves=not args.no_curves,
        )
        print(f"wrote {path}")


def _refresh_decoder(args) -> None:
    from .training import refresh_decoder

    for dataset in (list(DATASETS) if args.dataset == "all" else [args.dataset]):
        print(f"{dataset}/{args.model}: decoder refreshed in {refresh_decoder(dataset, args.model, args.checkpoints)}")


def _export_data(args) -> None:
    from .zoo import export_subset

    for dataset in (list(DATASETS) if args.dataset == "all" else [args.dataset]):
        print(f"wrote {export_subset(dataset, args.data_root, args.out)}")


def build_parser() -> argparse.ArgumentParser:
    from models.samplers import SAMPLER_WORDS

    from .registry import SPECS
    from .sampling import PRECISIONS, SAMPLE_BATCH

    p = argparse.ArgumentParser(prog="python -m genzoo", description="GenZoo: train and sample generative models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (or --all) and save its checkpoint")
    t.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    group = t.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", choices=list(SPECS))
    group.add_argument("--all", action="store_true", help="every model, in dependency order")
    t.add_argument("--epochs", type=int, help="default: the model's own for that dataset (see genzoo/registry.py)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--device", **{**DEVICE_ARG, "default": "auto"})
    t.add_argument("--data-root", help="torchvision dataset folder (default: $GENZOO_DATA_ROOT or data/)")
    t.add_argument("--out", help="checkpoint root (default: checkpoints/)")
    t.add_argument("--resume", action="store_true", help="continue after the last saved epoch")
    t.add_argument("--smoke", action="store_true", help="a few batches of a small subset, for tests")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, help="torch CPU threads")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(fn=_train, interrupted="the last finished epoch is saved; continue with --resume")

    s = sub.add_parser("sample", help="draw samples to .npz or a .png grid")
    s.add_argument("--dataset", required=True, choices=list(DATASETS))
    s.add_argument("--model", required=True, choices=list(SPECS))
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--label", type=int, help="class index for conditional models")
    s.add_argument("--labels", choices=["cycle"], help="cycle: labels 0, 1, ..., 9, 0, ...")
    s.add_argument("--sampler", choices=list(SAMPLER_WORDS))
    s.add_argument("--steps", type=int)
    s.add_argument("--eta", type=float)
    s.add_argument("--guidance", type=float)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--batch-size", type=int, default=SAMPLE_BATCH, help=f"images per network call (default {SAMPLE_BATCH})"
    )
    s.add_argument("--precision", default="fp32", choices=list(PRECISIONS),
                   help="bf16: bfloat16 autocast, about 2x faster where the CPU supports it natively (default fp32)")
    s.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    s.add_argument("--threads", type=int)
    s.add_argument("--device", **DEVICE_ARG,
                   help="where to run the network (default cpu; the same seed draws the same noise on any device)")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--out", required=True, help="FILE.npz or FILE.png (while drawing, progress is kept in "
                                                "FILE.npz.partial.pt, so an interrupted run continues when run again)")
    s.set_defaults(fn=_sample, interrupted=RESUMABLE_SAMPLING)
    r = sub.add_parser(
        "reconstruct",
        help="rebuild the test pictures through a model's code, to .npz (for the referee) "
        "or a .png grid: how sharp can its decoder be at best?",
    )
    r.add_argument("--dataset", required=True, choices=list(DATASETS))
    r.add_argument("--model", required=True, choices=list(SPECS))
    r.add_argument("--n", type=int, default=10000, help="the first N test pictures (default: all 10,000)")
    r.add_argument("--data-root")
    r.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    r.add_argument("--threads", type=int)
    r.add_argument("--device", **DEVICE_ARG, help="where to run the network (default cpu)")
    r.add_argument("--out", required=True, help="FILE.npz or FILE.png")
    r.set_defaults(fn=_reconstruct)

    v = sub.add_parser("evaluate", help="score the generative models; writes checkpoints/<dataset>/metrics.json "
                                        "(run again after a stop to continue the drawing where it stopped)")
    v.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    v.add_argument("--models", nargs="+", choices=[n for n in SPECS if SPECS[n].generative])
    v.add_argument("--n", type=int, default=10000, help="samples per model")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--data-root")
    v.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    v.add_argument("--latency-batches", type=int, nargs="+", default=[1, 16, 64])
    v.add_argument("--latency-budget", type=float, default=10.0, help="seconds of timing per sampler setting and batch")
    v.add_argument("--skip-slow", action="store_true", help="skip timing the 1,000-step DDPM sampler")
    v.add_argument("--precision", default="fp32", choices=list(PRECISIONS),
                   help="number format for drawing the scored samples (timings are always fp32, as in the app)")
    v.add_argument("--curve-n", type=int, default=2000, help="samples per point of the guidance curve (default 2000)")
    v.add_argument(
        "--samples",
        help="also write the scored samples under DIR/<dataset>/ (MODEL-unconditional.npz, MODEL-cycle.npz)",
    )
    v.add_argument("--stale-only", action="store_true",
                   help="score only the models whose row was measured on other settings or weights than the app's "
                        "now (or that have no row); of those, only the stale parts are drawn again")
    v.add_argument("--no-timing", action="store_true", help="keep the former timings (time later, on a quiet machine)")
    v.add_argument("--no-curves", action="store_true",
                   help="keep a guidance curve drawn with other settings (it stays labelled with them)")
    v.add_argument("--no-progress", action="store_true")
    v.set_defaults(fn=_evaluate, interrupted=RESUMABLE_SAMPLING)

    lk = sub.add_parser("likelihood", help="score every model with a likelihood on both datasets' test pictures, "
                                          "in bits per dimension; writes checkpoints/<dataset>/likelihood.json")
    lk.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    lk.add_argument("--models", nargs="+", choices=[n for n in SPECS if SPECS[n].cls.likelihood != "none"])
    lk.add_argument("--n", type=int, default=10000, help="test pictures of each dataset (default: all 10,000)")
    lk.add_argument("--budget", type=int, default=100_000,
                    help="network runs a model may take on each dataset: a costly likelihood (a diffusion model's "
                         "bound, an ODE) is measured on fewer pictures (default 100,000)")
    lk.add_argument("--data-root")
    lk.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    lk.add_argument("--threads", type=int)
    lk.set_defaults(fn=_likelihood)

    d = sub.add_parser("refresh-decoder", help="give a trained latent diffusion model its autoencoder's current "
                                              "decoder (allowed while that autoencoder's encoder is unchanged)")
    d.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    d.add_argument("--model", default="ldm", choices=[n for n in SPECS if SPECS[n].base])
    d.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    d.set_defaults(fn=_refresh_decoder)

    e = sub.add_parser(
        "export-data", help="write the small data subset the app shows (checkpoints/<dataset>/data_subset.npz)"
    )
    e.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    e.add_argument("--data-root")
    e.add_argument("--out", help="checkpoint root (default: checkpoints/)")
    e.set_defaults(fn=_export_data)

    u = sub.add_parser("publish", help="upload the app to a Hugging Face Space and the checkpoints to a model "
                                       "repository (token: HF_TOKEN or `hf auth login`)")
    u.add_argument("--space", required=True, metavar="OWNER/NAME", help="the Space to create or update")
    u.add_argument("--checkpoints-repo", metavar="OWNER/NAME",
                   help="a model repository for the checkpoints (default: inside the Space)")
    u.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    u.add_argument("--dry-run", action="store_true", help="list every file with its size and upload nothing")
    u.set_defaults(fn=_publish)

    q = sub.add_parser("quiz-pool", help="draw the models' pictures for 'Real or generated?' ahead "
                                         "(checkpoints/<dataset>/quiz_pool.npz), so the quiz starts at once")
    q.add_argument("--dataset", required=True, choices=[*DATASETS, "all"])
    q.add_argument("--n", type=int, default=24, help="pictures per model (default 24)")
    q.add_argument("--checkpoints", help="checkpoint root (default: checkpoints/)")
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(fn=_quiz_pool)

    x = sub.add_parser("quiz-export", help="the quiz's human-eye scores as CSV: each model's fooled rate and the "
                                           "false-alarm rate on real pictures, with 95 %% Wilson intervals")
    x.add_argument("--dataset", choices=list(DATASETS), help="one dataset (default: all)")
    x.add_argument("--db", help="the answer file (default: $GENZOO_DB or data/quiz.sqlite3)")
    x.add_argument("--out", help="a CSV file (default: print it)")
    x.set_defaults(fn=_quiz_export)
    return p


def _likelihood(args) -> None:
    import torch

    from .likelihood import measure

    if args.threads:
        torch.set_num_threads(args.threads)
    for ds in (list(DATASETS) if args.dataset == "all" else [args.dataset]):
        t0 = time.perf_counter()
        path = measure(ds, args.models, args.n, args.data_root, Path(args.checkpoints) if args.checkpoints else None,
                       budget=args.budget)
        print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")


def _quiz_pool(args) -> None:
    from .quiz import write_pool
    from .zoo import Zoo

    zoo = Zoo(Path(args.checkpoints) if args.checkpoints else None)
    for ds in (list(DATASETS) if args.dataset == "all" else [args.dataset]):
        t0 = time.perf_counter()
        out = write_pool(zoo, ds, args.n, None if args.no_progress else
                         (lambda f, name, ds=ds: print(f"{ds}: drawing {name}", flush=True)))
        print(f"wrote {out} in {time.perf_counter() - t0:.0f} s")


def _quiz_export(args) -> None:
    from .answers import AnswerStore

    text = AnswerStore(Path(args.db) if args.db else None).export_csv(args.dataset)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)


def _publish(args) -> None:
    from .publish import publish

    publish(args.space, args.checkpoints_repo, dry_run=args.dry_run, checkpoints=args.checkpoints)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoints import CheckpointError

    try:
        args.fn(args)
    except (DataError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {getattr(args, 'interrupted', 'nothing was written')}", file=sys.stderr)
        return 130
    return 0
