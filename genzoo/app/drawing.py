"""Drawing for the tabs: a model's sampler settings as the visitor changed them, the network runs a request takes
(which decide whether it waits for its turn), and each request's pictures, cached so that a request asked again
(a tab's opening view, a link) is answered from them."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from PIL import Image

from ..sampling import DrawRequest
from ..zoo import Zoo
from .common import ROW
from .inputs import clamp_int
from .memo import Memo


def sampler_options(name: str, dataset: str, sampler: Optional[str] = None, steps: Optional[int] = None,
                    guidance: Optional[float] = None) -> dict:
    """The registry's sampler settings for a model on a dataset, with the visitor's changes checked."""
    from ..registry import sampler_options as registry_options

    steps = None if steps is None else clamp_int(steps, 1, 1000, "steps")
    return registry_options(name, dataset, sampler, steps, guidance)


def network_runs(zoo: Zoo, dataset: str, names: Sequence[str], pictures: int, **overrides) -> int:
    """Network runs in all for ``pictures`` from each of ``names`` (the ready ones) at the request's sampler settings;
    a ValueError or TypeError for a value it cannot read."""
    from ..registry import sampler_options

    return sum(int(pictures) * zoo.model(dataset, n).network_evaluations(**sampler_options(n, dataset, **overrides))
               for n in names if n in zoo.ready(dataset))


def long_work(zoo: Zoo, dataset: str, names: Sequence[str], **overrides) -> bool:
    """Whether drawing from ``names`` runs any network more than once a picture (a diffusion model's steps), so the
    request takes its turn (``turns``); a request it cannot read is treated as long (the view gives its own error)."""
    try:
        return any(network_runs(zoo, dataset, [n], 1, **overrides) > 1 for n in names)
    except (TypeError, ValueError):
        return True


DRAWN = Memo(64)
PICTURES = Memo(64)


def drawn(zoo: Zoo, request: DrawRequest, step: Optional[Callable[[int, int], None]] = None):
    """A request's pictures (a ``TimedSample``: the tensor and the seconds they took); cached per request.
    ``step(done, total)`` hears the model's progress (a diffusion model's steps, a PixelCNN's rows) while it draws."""
    from .. import explore

    def compute():
        r = request
        told = {} if step is None else {"progress": step}
        return explore.timed_sample(zoo.model(r.dataset, r.model), r.n, r.seed, r.label, **r.sample_kwargs(), **told)

    return PICTURES.get((zoo, request), compute)


def draw(zoo: Zoo, request: DrawRequest, step: Optional[Callable[[int, int], None]] = None
         ) -> tuple[Image.Image, float]:
    """A request's pictures as rows of 16, and the seconds they took; cached per request (``step``: as ``drawn``)."""
    from ..imaging import grid_pil

    def compute():
        out = drawn(zoo, request, step)
        return grid_pil(out.images, nrow=min(request.n, ROW), scale=3), out.seconds

    return DRAWN.get((zoo, request), compute)


def step_words(progress, done: float, parts: int, name: str) -> Optional[Callable[[int, int], None]]:
    """A model's own progress (``step(k, total)``) told on a view's progress bar, where the view has reached ``done``
    of its ``parts`` models."""
    if progress is None:
        return None
    from .common import title

    return lambda k, total: progress((done + k / max(total, 1)) / parts, f"drawing from {title(name)}: {k} of {total}")
