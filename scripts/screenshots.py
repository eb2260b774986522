"""Screenshots of every tab of a running app, light and dark, MNIST and Fashion-MNIST: what to look at after
changing a tab (the browser test takes two of the four sets, to keep the suite short).

    python app.py &                      # or any URL where the app is served
    python -m scripts.screenshots [URL] [--out artifacts/screenshots/all]      # from the project's root

Uses Debian's Chromium (``/usr/bin/chromium``) through Playwright. Each tab gets a moment for its pictures to
arrive; the file names are THEME-DATASET-TAB.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.app.text import INTRO
from tests.test_browser import ARGS, CHROMIUM      # the browser and flags the browser tests use

ROOT = Path(__file__).resolve().parents[1]

TITLE = INTRO.splitlines()[0].lstrip("# ").strip()


def take(url: str, out: Path, settle_ms: int = 1500, only: tuple[str, ...] = ()) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for theme in ("light", "dark"):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}?__theme={theme}", wait_until="domcontentloaded", timeout=120_000)
            page.get_by_text(TITLE).wait_for(timeout=120_000)
            tabs = page.evaluate("[...document.querySelectorAll('[role=tab]')].map(t => t.innerText.trim())")
            for dataset in ("MNIST digits", "Fashion-MNIST clothes"):
                page.get_by_test_id(f"{dataset}-radio-label").click()
                for tab in [t for t in tabs if not only or t in only]:
                    page.get_by_role("tab", name=tab, exact=True).click()
                    page.wait_for_timeout(settle_ms)
                    path = out / f"{theme}-{dataset.split()[0]}-{tab.replace(' ', '_').replace('?', '')}.png"
                    page.screenshot(path=str(path), full_page=True)
                    shots.append(path)
                    print(path, flush=True)
            page.close()
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:7860/")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "screenshots" / "all")
    parser.add_argument("--settle-ms", type=int, default=1500, help="how long each tab gets to draw")
    parser.add_argument("--tab", action="append", default=[], help="only this tab (repeatable), e.g. 'Fast diffusion'")
    args = parser.parse_args()
    take(args.url.rstrip("/") + "/", args.out, args.settle_ms, tuple(args.tab))


if __name__ == "__main__":
    main()
