"""Share links: a view's whole state in the page's address, e.g.
``?tab=interpolate&dataset=fashion&seed_a=7&frames=12``.

Each tab names the controls a link may set (``Built.link``). The page reads its address when it opens and sets
them; a value that does not fit its control falls back to the default and the page says so, never an error page.
"Copy link to this view" writes the address of what is on screen.
"""
from __future__ import annotations

import urllib.parse
from typing import Mapping

import gradio as gr

from ..data import DATASETS, dataset_info
from .common import HEAVY

COMMON = ("tab", "dataset")
#: parameters that belong to the page itself, not to a view: Gradio's own (``__theme=dark``, ``view=api``)
PAGE_OWN = ("__theme", "view")


def choice_values(component) -> list:
    return [c[1] if isinstance(c, (tuple, list)) else c for c in (component.choices or [])]


def parse_value(component, raw: str, dataset: str, is_class: bool):
    """A link's text for one control, checked the way the control would check it; ValueError when it does not fit."""
    if is_class:
        names = list(dataset_info(dataset).class_names)
        if raw == "any" and "any" in choice_values(component):
            return raw
        if raw.isdigit() and int(raw) < len(names):
            return names[int(raw)]
        if raw in names:
            return raw
        raise ValueError(f"{raw!r} is not a class of {dataset_info(dataset).title}")
    if isinstance(component, gr.CheckboxGroup):
        values = [v for v in raw.split(",") if v]
        unknown = [v for v in values if v not in choice_values(component)]
        if unknown or not values:
            raise ValueError(f"unknown choice(s): {', '.join(unknown) or 'none given'}")
        return values
    if isinstance(component, (gr.Radio, gr.Dropdown)):
        if raw not in choice_values(component):
            raise ValueError(f"{raw!r} is not one of {', '.join(map(str, choice_values(component)))}")
        return raw
    if isinstance(component, (gr.Number, gr.Slider)):
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        lo, hi = getattr(component, "minimum", None), getattr(component, "maximum", None)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise ValueError(f"{raw} is outside {lo:g} to {hi:g}" if hi is not None else f"{raw} is below {lo:g}")
        whole = getattr(component, "precision", None) == 0 or (isinstance(component, gr.Slider)
                                                                and float(component.step).is_integer())
        return int(number) if whole and number.is_integer() else number
    raise TypeError(f"a link cannot set a {type(component).__name__}")


def read(params: Mapping[str, str], tabs: Mapping[str, "Built"], default_tab: str  # noqa: F821
         ) -> tuple[str, str, dict, list[str]]:
    """The tab, the dataset and the values a link sets, and a sentence for every part that fell back."""
    notes = []
    tab = params.get("tab", default_tab)
    if tab not in tabs:
        notes.append(f"there is no tab {tab!r}, so the first one is shown")
        tab = default_tab
    dataset = params.get("dataset", next(iter(DATASETS)))
    if dataset not in DATASETS:
        notes.append(f"there is no dataset {dataset!r}, so {dataset_info(next(iter(DATASETS))).title} is shown")
        dataset = next(iter(DATASETS))
    built, values = tabs[tab], {}
    for name, raw in params.items():
        if name in COMMON or name in PAGE_OWN:
            continue
        if name not in built.link:
            notes.append(f"“{name}” is not a setting of this tab, so it was left out")
            continue
        component = built.link[name]
        try:
            values[component] = parse_value(component, raw, dataset, component in built.classes)
        except (ValueError, TypeError) as exc:
            notes.append(f"“{name}”: {exc}, so it keeps its usual value")
    return tab, dataset, values, notes


def write(tab: str, dataset: str, built: "Built", values: list) -> str:  # noqa: F821
    """The query string of a view: its tab, dataset and every control its link may set, as they are now."""
    query = {"tab": tab, "dataset": dataset}
    for (name, _), value in zip(built.link.items(), values):
        if value is None:
            continue
        query[name] = ",".join(map(str, value)) if isinstance(value, list) else (
            f"{value:g}" if isinstance(value, float) else str(value))
    return "?" + urllib.parse.urlencode(query, safe=",")


COPY_JS = """(query) => {
  const url = window.location.origin + window.location.pathname + query;
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}"""


def _constant(value):
    def fn():
        return value
    return fn


def wire(demo: gr.Blocks, tabs_block: gr.Tabs, dataset: gr.Radio, tabs: Mapping[str, "Built"],  # noqa: F821
         api, link_box: gr.Textbox, copy: gr.Button, note: gr.Markdown):
    """Read the address when the page opens (then redraw that tab's views), track the open tab, and write links.
    Returns ``(outputs, show, chain)`` for other ways of opening a view (the presenter's tour): the components a view
    sets, a function from a link's settings to their values, and one that chains the redraws after an event."""
    default_tab = next(iter(tabs))
    shared = [c for b in tabs.values() for c in b.link.values()]
    state = gr.State(default_tab)          # the tab on show
    outputs = [tabs_block, dataset, state, note, *shared]

    def show(params: Mapping[str, str]) -> list:
        tab, ds, values, notes = read(params, tabs, default_tab)
        words = ("*This link asked for something the page cannot show: " + "; ".join(notes) + ".*") if notes else ""
        return [gr.Tabs(selected=tab), ds, tab, words] + [values.get(c, gr.skip()) for c in shared]

    def chain(event, prefix: str, every_tab: bool = False) -> None:
        """After ``event``, draw the shown tab's views again with the new values (``every_tab``: every tab's, the
        shown tab's first), as one listener: each view's pictures appear as soon as they are drawn, and the page
        handles one event instead of one per view of every tab (each costs a slow laptop's browser a fraction of a
        second)."""
        views = [(tab_id, view) for tab_id, built in tabs.items() for view in built.redraws]
        inputs = list({id(c): c for _, v in views for c in v["inputs"]}.values())
        outputs = list({id(c): c for _, v in views for c in v["outputs"]}.values())
        where = {id(c): i for i, c in enumerate(outputs)}

        def redraw(current, *values):
            given = {id(c): v for c, v in zip(inputs, values)}
            todo = sorted((v for v in views if every_tab or v[0] == current), key=lambda v: v[0] != current)
            if not todo:                                   # a tab with nothing to redraw: every picture stays
                yield [gr.skip()] * len(outputs)
            for _, view in todo:
                update = [gr.skip()] * len(outputs)        # what is on the page already stays there
                drawn = view["fn"](*[given[id(c)] for c in view["inputs"]])
                for c, value in zip(view["outputs"], drawn if len(view["outputs"]) > 1 else (drawn,)):
                    update[where[id(c)]] = value
                yield update

        if views:
            event.then(redraw, [state, *inputs], outputs, **api(f"{prefix}_redraw"), **HEAVY)

    def opened(request: gr.Request):
        params = dict(request.query_params) if request is not None else {}
        return show(params) if params else [gr.skip(), gr.skip(), default_tab] + [gr.skip()] * (len(outputs) - 3)

    chain(demo.load(opened, None, outputs, **api("link_open")), "link")
    for block in demo.blocks.values():
        if isinstance(block, gr.Tab) and block.id in tabs:
            block.select(_constant(block.id), None, state, **api(f"tab_{block.id}"), queue=False)

    def link(tab, ds, *values):
        built = tabs[tab]
        mine = [values[shared.index(c)] for c in built.link.values()]
        return write(tab, ds, built, mine)

    copy.click(link, [state, dataset, *shared], link_box, **api("link_copy"), queue=False).then(
        None, link_box, link_box, js=COPY_JS, **api("link_copy_js"))
    return outputs, show, chain
