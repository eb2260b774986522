"""What each app view computes, as plain Python: images, captions, tables and figures.

The Gradio layer (``genzoo.ui``) only wires these methods to widgets, so every
view can be called and tested without a browser. Errors a visitor can cause are
raised as ``ValueError`` with a sentence meant for them.
"""
from __future__ import annotations

import functools
import json
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from . import explore, guide, plots
from .data import dataset_info
from .evaluation import ms_per_image, percent
from .imaging import gif_bytes, grid_pil, labelled_rows, to_pil
from .registry import SPECS, default_guidance, sampler_options
from .zoo import Zoo

Progress = Optional[Callable[[float, str], None]]
Gallery = list[tuple[Image.Image, str]]

LATENT_MODELS = ["ae-8", "ae-32", "ae-grid", "vae", "vae-beta0", "vae-beta10", "cvae", "vae-2d"]
RECONSTRUCT_MODELS = ["ae-8", "ae-32", "ae-grid", "vae", "vae-beta0", "vae-beta10"]
CLASS_MODELS = ["cgan", "cvae", "ddpm-linear", "ddpm-cosine", "ldm"]
DIFFUSION_MODELS = ["ddpm-linear", "ddpm-cosine", "ldm"]
MAX_SAMPLES, MAX_FRAMES, MAX_SEED = 64, 16, 2**31 - 1
IMAGE_SCALE = 4
KEEP_FILES = 32          # interpolation GIFs kept on disk; older ones are deleted


def big(image: torch.Tensor) -> Image.Image:
    return to_pil(image, IMAGE_SCALE)


def clamp_int(value, lo: int, hi: int, what: str) -> int:
    """An integer in [lo, hi], or a ValueError naming the control."""
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} must lie between {lo} and {hi}, got {v}")
    return v


def drawing_array(value) -> Optional[np.ndarray]:
    """The picture inside a Sketchpad / Image value (dict with 'composite', array or PIL), or None."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite") if value.get("composite") is not None else value.get("background")
        if value is None:
            return None
    if isinstance(value, (str, Path)):
        with Image.open(value) as im:
            value = np.asarray(im.convert("RGBA"))
    return np.asarray(value)


class Views:
    """All views of the app over one loaded ``Zoo``."""

    def __init__(self, zoo: Zoo):
        self.zoo = zoo
        self.cache_dir = Path(tempfile.mkdtemp(prefix="genzoo-"))

    # -- helpers -----------------------------------------------------------------
    def class_names(self, dataset: str) -> tuple[str, ...]:
        return dataset_info(dataset).class_names

    def class_index(self, dataset: str, name) -> int:
        names = self.class_names(dataset)
        if isinstance(name, (int, np.integer)) and 0 <= int(name) < len(names):
            return int(name)
        if name in names:
            return names.index(name)
        raise ValueError(f"unknown class {name!r}; choose one of {', '.join(names)}")

    def test_image(self, dataset: str, class_name, index) -> tuple[torch.Tensor, int]:
        """The ``index``-th test image of a class in the shipped subset, and its label."""
        d = self.zoo.subset(dataset)
        k = self.class_index(dataset, class_name)
        pool = torch.nonzero(d.test_labels == k).flatten()
        i = clamp_int(index, 0, len(pool) - 1, "image number")
        return d.test_images[pool[i]][None], k

    def title(self, name: str) -> str:
        return SPECS[name].title if name in SPECS else name

    def caption(self, dataset: str, name: str) -> str:
        """The model's title, with a warning when its checkpoint is still part-way through training."""
        e = self.zoo.entry(dataset, name)
        if not e.in_training:
            return self.title(name)
        done, planned = e.epochs_done
        return f"{self.title(name)} (still training: {done} of {planned} epochs)"

    def names_for(self, dataset: str, wanted: Sequence[str]) -> list[str]:
        if isinstance(wanted, str):
            wanted = [wanted]
        unknown = [n for n in wanted if n not in SPECS]
        if unknown:
            raise ValueError(f"unknown model(s): {', '.join(map(str, unknown))}")
        return list(wanted)

    # -- 1. data --------------------------------------------------------------------
    @functools.lru_cache(maxsize=8)
    def data_view(self, dataset: str, per_class: int = 12) -> tuple[Gallery, list[list]]:
        d = self.zoo.subset(dataset)
        names = self.class_names(dataset)
        gallery = []
        for k, name in enumerate(names):
            imgs = d.train_images[d.train_labels == k][:per_class]
            gallery.append((grid_pil(imgs, nrow=4, scale=3), f"digit {name}" if dataset == "mnist" else name))
        rows = [[name, d.counts["train"][k], d.counts["test"][k]] for k, name in enumerate(names)]
        rows.append(["all classes", sum(d.counts["train"]), sum(d.counts["test"])])
        return gallery, rows

    # -- 2. sample --------------------------------------------------------------------
    def sampler_options(self, name: str, dataset: str, sampler: str = "ddim", steps: Optional[int] = None,
                        guidance: Optional[float] = None) -> dict:
        steps = None if steps is None else clamp_int(steps, 1, 1000, "steps")
        return sampler_options(name, dataset, sampler, steps, guidance)

    @functools.lru_cache(maxsize=64)
    def _sample(self, dataset: str, name: str, n: int, seed: int, label: Optional[int], opts: tuple) -> tuple[Image.Image, float]:
        model = self.zoo.model(dataset, name)
        out = explore.timed_sample(model, n, seed, label, **dict(opts))
        return grid_pil(out.images, nrow=min(n, 8), scale=3), out.seconds

    def sample_view(self, dataset: str, names: Sequence[str], n: int = 16, seed: int = 0, sampler: str = "ddim",
                    steps: int = 50, progress: Progress = None) -> Gallery:
        names = self.names_for(dataset, names)
        if not names:
            raise ValueError("pick at least one model")
        n = clamp_int(n, 1, MAX_SAMPLES, "number of images")
        seed = clamp_int(seed, 0, MAX_SEED, "seed")
        out = []
        for i, name in enumerate(names):
            if progress:
                progress(i / len(names), f"drawing from {self.title(name)}")
            opts = tuple(sorted(self.sampler_options(name, dataset, sampler, steps).items()))
            img, secs = self._sample(dataset, name, n, seed, None, opts)
            out.append((img, f"{self.caption(dataset, name)} — {secs:.2f} s"))
        return out

    # -- 3. pick a class -----------------------------------------------------------------
    def class_view(self, dataset: str, class_name, n: int = 8, seed: int = 0, guidance: Optional[float] = None,
                   progress: Progress = None) -> Gallery:
        """Every class-conditional model's pictures of one class; the diffusion models guided with ``guidance``
        (default: the dataset's strength)."""
        k = self.class_index(dataset, class_name)
        n = clamp_int(n, 1, MAX_SAMPLES, "number of images")
        seed = clamp_int(seed, 0, MAX_SEED, "seed")
        guidance = default_guidance(dataset) if guidance is None else float(guidance)
        if not 0 <= guidance <= 10:
            raise ValueError(f"guidance strength must lie between 0 and 10, got {guidance}")
        out = []
        for i, name in enumerate(CLASS_MODELS):
            entry = self.zoo.entry(dataset, name)
            if not entry.ready:
                continue
            if progress:
                progress(i / len(CLASS_MODELS), f"drawing from {self.title(name)}")
            opts = tuple(sorted(self.sampler_options(name, dataset, guidance=guidance).items()))
            img, secs = self._sample(dataset, name, n, seed, k, opts)
            out.append((img, f"{self.caption(dataset, name)} — {secs:.2f} s"))
        if not out:
            raise ValueError("no class-conditional model is available for this dataset")
        return out

    # -- 4. interpolate --------------------------------------------------------------------
    def interpolate_view(self, dataset: str, class_a, index_a, class_b, index_b, drawing=None,
                         seed_a: int = 1, seed_b: int = 2, frames: int = 10,
                         progress: Progress = None) -> tuple[Image.Image, str, list[list]]:
        """Paths between the same two images for the autoencoders (your drawing replaces the
        first one if you made one), and between two seeds' noise for the GAN and DDPM (via DDIM)."""
        frames = clamp_int(frames, 3, MAX_FRAMES, "number of frames")
        seed_a = clamp_int(seed_a, 0, MAX_SEED, "first seed")
        seed_b = clamp_int(seed_b, 0, MAX_SEED, "second seed")
        a, _ = self.test_image(dataset, class_a, index_a)
        b, _ = self.test_image(dataset, class_b, index_b)
        art = drawing_array(drawing)
        if art is not None:
            try:
                a = explore.prepare_drawing(art, **self._drawing_style(dataset))
            except explore.DrawingError:
                pass                # an untouched sketchpad: keep the test image
        strips: list[tuple[str, torch.Tensor, str]] = []
        for name in ("ae-8", "ae-32", "vae"):
            if self.zoo.entry(dataset, name).ready:
                path = explore.latent_path(self.zoo.model(dataset, name), a, b, frames)
                strips.append((name, torch.cat([a, path, b]), "between the two images"))
        for i, name in enumerate(("gan", "ddpm-cosine")):
            if not self.zoo.entry(dataset, name).ready:
                continue
            if progress:
                progress(i / 2, f"walking {self.title(name)}'s noise")
            opts = self.sampler_options(name, dataset, steps=25) if name.startswith("ddpm") else {}
            path = explore.noise_path(self.zoo.model(dataset, name), seed_a, seed_b, frames, None, **opts)
            strips.append((name, path, f"between seeds {seed_a} and {seed_b}"))
        if not strips:
            raise ValueError("no model with a latent space is available for this dataset")
        rows, labelled, gif_frames = [], [], []
        for name, path, what in strips:
            inner = path[1:-1] if len(path) == frames + 2 else path      # smoothness of the model's own frames
            s = explore.smoothness(inner)
            labelled.append((f"{self.caption(dataset, name)}\n{what}\nsmoothness {s:.2f}", grid_pil(path, nrow=len(path), scale=2)))
            rows.append([self.title(name), round(s, 3)])
        for j in range(frames):
            column = torch.cat([p[1 + j if p.shape[0] == frames + 2 else j][None] for _, p, _ in strips])
            gif_frames.append(grid_pil(column, nrow=len(strips), scale=4))
        gif = self.cache_dir / f"interpolation-{dataset}-{time.time_ns()}.gif"
        gif.write_bytes(gif_bytes(gif_frames))
        for old in sorted(self.cache_dir.glob("interpolation-*.gif"))[:-KEEP_FILES]:    # Gradio serves its own copy
            old.unlink(missing_ok=True)
        return labelled_rows(labelled), str(gif), rows

    # -- 5. latent map -------------------------------------------------------------------------
    @functools.lru_cache(maxsize=32)
    def _map(self, dataset: str, name: str) -> explore.LatentMap:
        d = self.zoo.subset(dataset)
        return explore.latent_map(self.zoo.model(dataset, name), d.test_images, d.test_labels)

    def latent_map_view(self, dataset: str, name: str, marker: Optional[np.ndarray] = None) -> tuple[go.Figure, Optional[Image.Image], str]:
        if name not in LATENT_MODELS:
            raise ValueError(f"{name!r} has no latent map; choose one of {', '.join(LATENT_MODELS)}")
        model = self.zoo.model(dataset, name)
        m = self._map(dataset, name)
        extra = []
        if marker is not None:
            extra.append(go.Scatter(x=[marker[0]], y=[marker[1]], mode="markers+text", name="your drawing",
                                    text=["your drawing"], textposition="top center",
                                    marker=dict(size=18, symbol="star", color="#EE7733", line=dict(width=2, color="#000"))))
        if m.explained is None:
            fig = plots.class_scatter(m.xy, m.labels, self.class_names(dataset), f"{self.title(name)}: its 2 code numbers",
                                      "code number 1", "code number 2", extra)
            plane = grid_pil(explore.decoded_plane(model), nrow=15, scale=2)
            note = "This model's code has only two numbers, so the map shows them directly; the grid decodes evenly spaced codes."
        else:
            e = m.explained
            fig = plots.class_scatter(m.xy, m.labels, self.class_names(dataset),
                                      f"{self.title(name)}: {model.latent_dim}-number codes, flattened by PCA",
                                      f"main direction 1 ({e[0]:.0%} of the spread)", f"main direction 2 ({e[1]:.0%})", extra)
            plane = None
            note = f"The two main directions together hold {e.sum():.0%} of how the codes vary."
        return fig, plane, note

    def latent_point(self, dataset: str, name: str, u: float, v: float) -> Image.Image:
        """Decode the code at map position (u, v): the mean code plus u and v along the two axes."""
        model = self.zoo.model(dataset, name)
        m = self._map(dataset, name)
        z = torch.from_numpy(m.lift(np.array([float(u), float(v)]))).float()[None].to(model.device)
        labels = torch.zeros(1, dtype=torch.long) if model.conditional else None
        return big(model.decode(z, labels)[0])

    def latent_test_image(self, dataset: str, name: str, class_name, index) -> tuple[float, float, Image.Image, Image.Image]:
        """Where a test image lands on the map, and what its code decodes to."""
        model = self.zoo.model(dataset, name)
        x, k = self.test_image(dataset, class_name, index)
        lab = torch.tensor([k]) if model.conditional else None
        z = explore.encode_all(model, x, lab if lab is not None else torch.tensor([k]))
        u, v = self._map(dataset, name).project(z)[0]
        return float(u), float(v), big(x[0]), big(model.decode(torch.from_numpy(z).float(), lab)[0])

    def latent_drawing(self, dataset: str, name: str, drawing) -> tuple[go.Figure, Gallery]:
        """Your drawing as a marked point on the map, and the training images nearest to it."""
        x = self.drawing(dataset, drawing)
        model = self.zoo.model(dataset, name)
        m = self._map(dataset, name)
        lab = torch.zeros(1, dtype=torch.long)
        if model.conditional:   # the CVAE also needs a class: use the one the classifier would pick, else 0
            clf = self.zoo.entry(dataset, "classifier")
            lab = clf.model.predict(x) if clf.ready else lab
        xy = m.project(explore.encode_all(model, x, lab))[0]
        fig, _, _ = self.latent_map_view(dataset, name, marker=xy)
        d = self.zoo.subset(dataset)
        idx, dist = explore.nearest(d.train_images, x, k=6)
        names = self.class_names(dataset)
        gallery = [(big(x[0]), "your drawing, as the model sees it")]
        gallery += [(big(d.train_images[i]), f"{names[int(d.train_labels[i])]} — distance {dd:.1f}") for i, dd in zip(idx, dist)]
        return fig, gallery

    # -- 6. reconstruct -------------------------------------------------------------------------
    def _drawing_style(self, dataset: str) -> dict:
        return {"box": 20, "by_mass": True} if dataset == "mnist" else {"box": 28, "by_mass": False}

    def drawing(self, dataset: str, value) -> torch.Tensor:
        art = drawing_array(value)
        if art is None:
            raise ValueError("draw something first (or upload a picture)")
        try:
            return explore.prepare_drawing(art, **self._drawing_style(dataset))
        except explore.DrawingError as exc:
            raise ValueError(str(exc)) from None

    def reconstruct_view(self, dataset: str, source: str, class_name, index, drawing=None) -> tuple[Gallery, tuple, list[list]]:
        if source == "drawing":
            x = self.drawing(dataset, drawing)
        elif source == "test image":
            x, _ = self.test_image(dataset, class_name, index)
        else:
            raise ValueError("source must be 'test image' or 'drawing'")
        gallery = [(big(x[0]), "input")]
        rows, best = [], None
        for name in RECONSTRUCT_MODELS:
            if not self.zoo.entry(dataset, name).ready:
                continue
            r = self.zoo.model(dataset, name).reconstruct(x)
            mse = float((r - x).pow(2).mean())
            gallery.append((big(r[0]), f"{self.title(name)} — error {mse:.4f}"))
            rows.append([self.title(name), round(mse, 5)])
            if best is None or name == "vae":      # the slider shows the VAE, else the first model available
                best = r
        if best is None:
            raise ValueError("no autoencoder is available for this dataset")
        return gallery, (big(x[0]), big(best[0])), rows

    # -- 7. training --------------------------------------------------------------------------------
    def epochs_available(self, dataset: str, name: str) -> list[int]:
        e = self.zoo.entry(dataset, name)
        if e.folder is None or not (e.folder / "samples").is_dir():
            return []
        return sorted(int(p.stem.split("_")[1]) for p in (e.folder / "samples").glob("epoch_*.png"))

    def training_view(self, dataset: str, names: Sequence[str], epoch: int) -> Gallery:
        names = self.names_for(dataset, names)
        epoch = clamp_int(epoch, 1, 10_000, "epoch")
        out = []
        for name in names:
            e = self.zoo.entry(dataset, name)
            have = self.epochs_available(dataset, name)
            if not have:
                continue
            shown = max([k for k in have if k <= epoch] or [have[0]])
            with Image.open(e.folder / "samples" / f"epoch_{shown:03d}.png") as im:
                img = im.convert("L")
            img = img.resize((img.width * 2, img.height * 2), Image.NEAREST)
            done, planned = e.epochs_done
            still = f" (training under way: {done} of {planned} epochs so far)" if e.in_training else ""
            out.append((img, f"{self.title(name)} — epoch {shown} of {done}{still}"))
        return out

    def loss_curves(self, dataset: str, names: Sequence[str]) -> tuple[go.Figure, go.Figure]:
        """Training / test loss per epoch for each model, and the GANs' D(x) and D(G(z))."""
        names = self.names_for(dataset, names)
        series, gan_series = {}, {}
        for name in names:
            hist = self.zoo.entry(dataset, name).history.get("epochs", [])
            if not hist:
                continue
            ep = np.array([h["epoch"] for h in hist])
            if "loss_d" in hist[0]:
                for key, label in (("loss_d", "critic loss"), ("loss_g", "generator loss")):
                    series[f"{self.title(name)}: {label}"] = (ep, np.array([h[key] for h in hist]))
                for key, label in (("d_real", "D(real image)"), ("d_fake", "D(generated image)")):
                    gan_series[f"{self.title(name)}: {label}"] = (ep, np.array([h[key] for h in hist]))
            else:
                series[f"{self.title(name)}: training"] = (ep, np.array([h["loss"] for h in hist]))
                if "test_loss" in hist[0]:
                    series[f"{self.title(name)}: test"] = (ep, np.array([h["test_loss"] for h in hist]))
        loss = plots.lines(series, "Loss per epoch (lower is better; each model has its own scale)", "epoch", "loss",
                           log_y=bool(series) and all((s[1] > 0).all() for s in series.values()))
        gan = plots.lines(gan_series, "GAN critic's verdicts: probability it says 'real'", "epoch", "D(·)")
        return loss, gan

    # -- 8. how diffusion works ------------------------------------------------------------------------
    @functools.lru_cache(maxsize=1)
    def schedule_figures(self) -> tuple[go.Figure, go.Figure, go.Figure]:
        c = explore.schedule_curves()
        t = np.arange(len(c["linear"]["beta"]))
        beta = plots.lines({k: (t, v["beta"]) for k, v in c.items()}, "β_t: noise added at each step", "step t", "β_t")
        abar = plots.lines({k: (t, v["alpha_bar"]) for k, v in c.items()}, "ᾱ_t: share of the image left", "step t", "ᾱ_t")
        snr = plots.lines({k: (t, v["snr"]) for k, v in c.items()}, "Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t)",
                          "step t", "SNR (log scale)", log_y=True)
        return beta, abar, snr

    def noising_view(self, dataset: str, class_name, index, t: int) -> Gallery:
        t = clamp_int(t, 0, 999, "step t")
        x, _ = self.test_image(dataset, class_name, index)
        return [(big(x[0]), "clean image")] + [
            (big(explore.noised(x, t, s)[0]), f"{s} schedule at t = {t}") for s in ("linear", "cosine")]

    def reverse_view(self, dataset: str, name: str, class_name, seed: int = 0, steps: int = 50,
                     progress: Progress = None) -> tuple[Gallery, Image.Image]:
        if name not in DIFFUSION_MODELS:
            raise ValueError(f"{name!r} is not a diffusion model; choose one of {', '.join(DIFFUSION_MODELS)}")
        model = self.zoo.model(dataset, name)
        seed = clamp_int(seed, 0, MAX_SEED, "seed")
        steps = clamp_int(steps, 2, 1000, "steps")
        k = None if class_name in (None, "", "any") else self.class_index(dataset, class_name)
        g = torch.Generator().manual_seed(seed)
        labels = torch.tensor([k]) if k is not None else None
        cb = (lambda i, n: progress(i / n, f"denoising step {i} of {n}")) if progress else None
        opts = self.sampler_options(name, dataset, steps=steps)
        opts.pop("steps"); opts.pop("sampler")
        x0, frames = model.denoise(model.noise(1, g), labels, sampler="ddim", steps=steps, generator=g,
                                   progress=cb, frames=min(10, steps), **opts)
        gallery = []
        for t, xt, pred in frames:
            shown = model.to_images(xt) if name == "ldm" else ((xt + 1) / 2).clamp(0, 1)
            gallery.append((big(torch.cat([shown, model.to_images(pred)], dim=3)[0]), f"t = {t}: noisy image | its guess of the end result"))
        return gallery, big(model.to_images(x0)[0])

    # -- 10. model guide ------------------------------------------------------------------------------------
    @functools.lru_cache(maxsize=32)
    def _fresh(self, name: str):
        """An untrained instance, for models without a checkpoint: same class, same abilities."""
        return SPECS[name].build().eval()

    def _any_model(self, dataset: str, name: str):
        e = self.zoo.entries.get(dataset, {}).get(name)
        return e.model if e is not None and e.ready else self._fresh(name)

    def guide_table(self, dataset: str) -> list[list]:
        """The capability table: one row per registry model, every cell read from the model object."""
        dataset_info(dataset)
        return [guide.capabilities(self._any_model(dataset, n), s.title, sampler_options(n, dataset)) for n, s in SPECS.items()]

    def guide_model(self, dataset: str, name: str) -> tuple[str, list[list]]:
        """Description, training facts and key equation (Markdown with LaTeX), and the layer table."""
        if name not in SPECS:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
        spec = SPECS[name]
        model = self._any_model(dataset, name)
        e = self.zoo.entries.get(dataset, {}).get(name)
        facts = (guide.training_facts(e.history, model) if e is not None and e.ready
                 else f"{sum(p.numel() for p in model.parameters()):,} parameters · no checkpoint for this dataset yet")
        text = "\n\n".join([f"### {spec.title}", spec.summary, guide.FAMILY_TEXT.get(model.family, ""),
                             f"*{facts}*", "**Key equation**", guide.EQUATIONS.get(model.family, "")])
        return text, guide.layer_table(model)

    def guide_advice(self, dataset: str) -> str:
        return "**Which model should I use?** " + guide.advice(self.metrics(dataset))

    # -- 9. scoreboard -----------------------------------------------------------------------------------
    def metrics(self, dataset: str) -> Optional[dict]:
        """``checkpoints/<dataset>/metrics.json`` written by ``python -m genzoo evaluate``, if present."""
        dataset_info(dataset)
        path = self.zoo.root / dataset / "metrics.json"
        if not path.exists():
            return None
        key = (str(path), path.stat().st_mtime)
        if getattr(self, "_metrics_key", None) != key:
            self._metrics_key, self._metrics = key, json.loads(path.read_text())
        return self._metrics

    def scoreboard_view(self, dataset: str) -> tuple[list[list], go.Figure, go.Figure, go.Figure, str]:
        """The measured table, a FID bar chart, quality against speed, the guidance curve and a summary."""
        m = self.metrics(dataset)
        if m is None:
            raise ValueError(f"no measurements for {dataset_info(dataset).title} yet: run "
                             f"`python -m genzoo evaluate --dataset {dataset}`")
        rows, names, fids, speeds = [], [], [], []
        for name, r in m["models"].items():
            u = r["unconditional"]
            c = r.get("conditional_samples", {})
            ms = ms_per_image(r)
            rows.append([r["title"], round(u["fid"], 2), round(u["precision"], 3), round(u["recall"], 3),
                         round(u["class_kl"], 4), round(c["cond_acc"], 4) if "cond_acc" in c else None,
                         round(u["sharpness"], 2), round(ms, 3) if ms else None,
                         next(iter(r["network_evaluations"].values())), r["parameters"],
                         round(r["training"]["time_s"] / 60, 1)])
            names.append(r["title"]); fids.append(u["fid"]); speeds.append(ms)
        fid_bar = plots.bars(names, fids, f"FID (lower is better; real pictures score {m['floor_fid']:.2f})",
                             "model", "FID (log scale)", log_y=True)
        scatter = go.Figure()
        for i, (nm, f, sp) in enumerate(zip(names, fids, speeds)):
            if sp:
                scatter.add_trace(go.Scatter(x=[sp], y=[f], mode="markers+text", text=[nm], textposition="top center",
                                             name=nm, marker=dict(size=12, color=plots.SERIES[i % len(plots.SERIES)])))
        scatter = plots.style(scatter, "Quality against speed (bottom left is best)", "milliseconds per picture (log scale)",
                              "FID (log scale)")
        scatter.update_xaxes(type="log")
        scatter.update_yaxes(type="log")
        scatter.update_layout(showlegend=False)
        # FID from fewer pictures reads higher, so each curve says how many it was measured on
        curves = {f"{r['title']} ({r['guidance_curve'][0]['n']:,} pictures a point)":
                  tuple([p[k] for p in r["guidance_curve"]] for k in ("guidance", "cond_acc", "fid"))
                  for r in m["models"].values() if "guidance_curve" in r}
        return rows, fid_bar, scatter, plots.guidance(curves), self.summary(m)

    def summary(self, m: dict) -> str:
        """A few plain sentences written from the numbers."""
        res = m["models"]
        lines = [f"Scored on {m['n']:,} pictures per model; the evaluator recognises "
                 f"{percent(m['classifier_test_accuracy'])} of real test pictures."]
        fid = {n: r["unconditional"]["fid"] for n, r in res.items()}
        speed = {n: ms_per_image(r) for n, r in res.items() if ms_per_image(r)}
        best = min(fid, key=fid.get)
        line = (f"**Closest to real pictures:** {res[best]['title']} (FID {fid[best]:.2f}; real pictures themselves score "
                f"{m['floor_fid']:.2f}).")
        if speed and best in speed:
            fast = min(speed, key=speed.get)
            ratio = speed[best] / speed[fast]
            line += (f" It takes {speed[best]:.2f} ms per picture, about {ratio:.0f}× slower than the fastest, "
                     f"{res[fast]['title']} ({speed[fast]:.2f} ms)." if ratio >= 2 else
                     f" It is also among the fastest: {speed[best]:.2f} ms per picture.")
        lines.append(line)
        sharp = {n: r["unconditional"]["sharpness"] for n, r in res.items()}
        if "vae" in sharp and "gan" in sharp:
            verdict = "blurrier" if sharp["vae"] < sharp["gan"] else "not blurrier"
            lines.append(f"**Are VAE pictures blurrier than GAN pictures?** Yes: the VAE's edges are "
                         f"{sharp['vae']:.2f}× as sharp as real pictures, the GAN's {sharp['gan']:.2f}×."
                         if verdict == "blurrier" else
                         f"**Are VAE pictures blurrier than GAN pictures?** Not here: sharpness {sharp['vae']:.2f} vs "
                         f"{sharp['gan']:.2f} (1 = as sharp as real pictures).")
        kl = {n: r["unconditional"]["class_kl"] for n, r in res.items() if not r["conditional"] or n.startswith("ddpm")}
        if kl:
            even, uneven = min(kl, key=kl.get), max(kl, key=kl.get)
            lines.append(f"**Which model covers every class?** Most evenly: {res[even]['title']} (imbalance {kl[even]:.3f}); "
                         f"least evenly: {res[uneven]['title']} ({kl[uneven]:.3f}; 0 = all classes equally often).")
        smooth = {n: r["interpolation_smoothness"] for n, r in res.items() if "interpolation_smoothness" in r}
        if smooth:
            s_best, s_worst = min(smooth, key=smooth.get), max(smooth, key=smooth.get)
            lines.append(f"**Is interpolation smooth?** Smoothest: {res[s_best]['title']} ({smooth[s_best]:.2f}); "
                         f"jumpiest: {res[s_worst]['title']} ({smooth[s_worst]:.2f}; 1 = perfectly even steps).")
        acc = {n: r["conditional_samples"]["cond_acc"] for n, r in res.items() if "conditional_samples" in r}
        if acc:
            a_best = max(acc, key=acc.get)
            lines.append(f"**Draws the class you ask for most reliably:** {res[a_best]['title']} ({percent(acc[a_best])} "
                         f"recognised as that class by the evaluator).")
        for r in res.values():
            if r.get("precision", "fp32") != "fp32" and "precision_check" in r:
                c = r["precision_check"]
                lines.append(f"*To save time, the pictures scored for {r['title']} were drawn with a shorter number "
                             f"format ({r['precision']}) than the app's. Checked on {c['n']} pictures drawn both ways "
                             f"from the same noise: the evaluator saw the same class in {c['same_class']:.0%} of them, "
                             f"and pixels differ by {c['mean_abs_pixel_diff']:.1%} on average.*")
        return "\n\n".join(lines)

    def speed_view(self, dataset: str, progress: Progress = None) -> list[list]:
        """Sizes and a quick live timing of every model on this machine (batch 16)."""
        rows = []
        names = [n for n in SPECS if SPECS[n].generative]
        for i, name in enumerate(names):
            e = self.zoo.entry(dataset, name)
            if not e.ready:
                rows.append([self.title(name), None, None, None, "unavailable"])
                continue
            if progress:
                progress(i / len(names), f"timing {self.title(name)}")
            opts = tuple(sorted(self.sampler_options(name, dataset).items()))
            secs = self._time(dataset, name, opts)
            evals = e.model.network_evaluations(**dict(opts), labels_given=False) if opts else 1
            rows.append([self.title(name), e.parameters, evals, round(1000 * secs / 16, 2),
                         "still training" if e.in_training else "ready"])
        return rows

    @functools.lru_cache(maxsize=64)
    def _time(self, dataset: str, name: str, opts: tuple) -> float:
        model = self.zoo.model(dataset, name)
        explore.timed_sample(model, 2, 0, **dict(opts))         # warm-up
        return explore.timed_sample(model, 16, 1, **dict(opts)).seconds
