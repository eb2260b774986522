"""What a person sees: Debian's Chromium, driven by Playwright, visits every tab and uses it."""
import shutil

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
SHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT = 120_000
# each test's own limit, to stop a hung page, not to time it: most take 1-25 s on a slow 2-core machine, up to twice
# that while the other test process shares the cores (the tests share one browser page: the file runs in one process)
pytestmark = pytest.mark.timeout(180)


def open_page(owner, **kwargs):
    """A new page of a browser or a browser context that waits up to ``TIMEOUT`` for a click or a field (a page busy
    with a stream answers late)."""
    pg = owner.new_page(**kwargs)
    pg.set_default_timeout(TIMEOUT)
    return pg



@pytest.fixture(scope="module")
def page(app_server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = open_page(browser, viewport={"width": 1400, "height": 1000})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(app_server.url, wait_until="domcontentloaded", timeout=TIMEOUT)
        pg.get_by_text("GenZoo — see how machines learn to draw").wait_for(timeout=TIMEOUT)
        pg.js_errors = errors
        yield pg
        browser.close()


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def wait_images(page, selector, at_least=1):
    """At least ``at_least`` result images in the component, and the first one actually decoded."""
    page.wait_for_function(
        "([sel, n]) => { const imgs = [...document.querySelectorAll(sel + ' img')];"
        " return imgs.length >= n && imgs[0].complete && imgs[0].naturalWidth > 0; }",
        arg=[f"#{selector}", at_least], timeout=TIMEOUT)
    return page.locator(f"#{selector} img").count()


QUIET = ("([sel, ms]) => { const t = document.querySelector(sel + ' [data-testid=status-tracker]');"
         " const busy = !!t && !t.classList.contains('hide'); const k = '__quiet' + sel;"
         " if (busy) { window[k] = null; return false; }"
         " if (window[k] == null) { window[k] = performance.now(); }"
         " return performance.now() - window[k] >= ms; }")


def settled(page, selector, quiet_ms=2000):
    """The component has shown no pending or running event for ``quiet_ms``: every view queued for it (an opening
    view, a link's redraws, a click) has been drawn, however slow the machine."""
    page.evaluate("(sel) => { window['__quiet' + sel] = null; }", f"#{selector}")
    page.wait_for_function(QUIET, arg=[f"#{selector}", quiet_ms], timeout=TIMEOUT)


def wait_plot(page, selector):
    page.wait_for_selector(f"#{selector} .js-plotly-plot .main-svg", timeout=TIMEOUT)


def no_error_shown(page):
    toasts = page.locator(".toast-body.error, [data-testid='toast-body'].error")
    assert toasts.count() == 0, toasts.all_inner_texts()


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_data_tab_loads_real_images(page):
    wait_images(page, "data-gallery", 10)
    assert page.get_by_text("all classes").count() >= 1
    shot(page, "01-data")
    no_error_shown(page)


def test_sample_tab(page):
    open_tab(page, "Sample")
    page.get_by_role("button", name="Draw", exact=True).click()
    wait_images(page, "sample-gallery", 3)
    shot(page, "02-sample")
    no_error_shown(page)


def test_clicking_a_models_pictures_shows_their_nearest_training_pictures(page):
    open_tab(page, "Sample")
    wait_images(page, "sample-gallery", 3)
    page.locator("#sample-gallery .thumbnail-item").first.click()
    wait_images(page, "sample-nearest", 4)
    words = page.locator("#sample-nearest-words").inner_text()
    assert "three training pictures closest to each" in words and "Searched:" in words
    page.locator("#sample-nearest").scroll_into_view_if_needed()
    shot(page, "02b-sample-nearest")
    no_error_shown(page)


def test_class_tab(page):
    open_tab(page, "Pick a class")
    page.get_by_role("button", name="Draw this class").click()
    wait_images(page, "class-gallery", 5)
    shot(page, "03-class")
    no_error_shown(page)


def test_guidance_slider_follows_the_dataset(page):
    """Each dataset's diffusion models are guided with their own measured strength: the slider moves with it."""
    from genzoo.data import DATASETS
    from genzoo.registry import DEFAULT_GUIDANCE

    open_tab(page, "Pick a class")
    strength = page.locator("#guidance input[type=number]")
    assert float(strength.input_value()) == DEFAULT_GUIDANCE["mnist"]
    for dataset in ("fashion", "mnist"):
        page.get_by_label(DATASETS[dataset].title, exact=True).check()
        page.wait_for_function("([sel, v]) => Number(document.querySelector(sel).value) === v",
                               arg=["#guidance input[type=number]", DEFAULT_GUIDANCE[dataset]], timeout=TIMEOUT)
    no_error_shown(page)


def test_views_redraw_when_the_dataset_switches(page):
    """Switching the dataset draws the views that show a class again, for the new dataset (the test's Fashion-MNIST
    has only a few models: its autoencoders rebuild, and its real pictures are noised)."""
    from genzoo.data import DATASETS

    def first_picture(gallery):
        wait_images(page, gallery, 2)
        return page.locator(f"#{gallery} img").first.get_attribute("src")

    before = {}
    views = (("Reconstruct", "recon-gallery"), ("Diffusion", "noised-gallery"))
    for tab, gallery in views:
        open_tab(page, tab)
        before[gallery] = first_picture(gallery)
    page.get_by_label(DATASETS["fashion"].title, exact=True).check()
    for tab, gallery in views:
        open_tab(page, tab)
        page.wait_for_function("([sel, old]) => { const img = document.querySelector(sel + ' img');"
                               " return img && img.complete && img.getAttribute('src') !== old; }",
                               arg=[f"#{gallery}", before[gallery]], timeout=TIMEOUT)
    shot(page, "06b-noised-after-switch")
    no_error_shown(page)
    page.get_by_label(DATASETS["mnist"].title, exact=True).check()
    from playwright.sync_api import expect       # back on MNIST once the class pickers hold its classes again
    expect(page.get_by_label("Test picture: class").first).to_have_value("0", timeout=TIMEOUT)


def test_interpolate_tab(page):
    open_tab(page, "Interpolate")
    page.get_by_role("button", name="Interpolate", exact=True).click()
    wait_images(page, "interp-paths", 1)
    shot(page, "04-interpolate")
    no_error_shown(page)


def interpolation_state(pg):
    """The open tab, the dataset, the frames and the path picture (named by its bytes) of a page."""
    wait_images(pg, "interp-paths", 1)
    return (pg.locator("[role=tab][aria-selected=true]").inner_text(),
            pg.locator("input[type=radio]:checked").first.get_attribute("value"),
            pg.locator("#interp-frames input[type=number]").input_value(),
            pg.locator("#interp-paths img").get_attribute("src").rsplit("/", 1)[-1])


FRAMES_ARE = ("(v) => { const e = document.querySelector('#interp-frames input[type=number]');"
              " return e && e.value === v; }")


@pytest.mark.timeout(180)
def test_a_shared_link_opens_the_same_view_in_a_fresh_browser(page, app_server):
    """Open a link (with one bad setting), change the view, copy its link, open that in a new browser context."""
    browser = page.context.browser
    first = open_page(browser.new_context(viewport={"width": 1400, "height": 1000}))
    first.goto(f"{app_server.url}?tab=interpolate&dataset=fashion&seed_a=7&frames=12&class_a=1&bogus=3",
               timeout=TIMEOUT)
    first.wait_for_function(FRAMES_ARE, arg="12", timeout=TIMEOUT)
    settled(first, "interp-paths")
    assert first.locator("#link-note").inner_text().count("“bogus” is not a setting of this tab") == 1
    tab, dataset, frames, _ = interpolation_state(first)
    assert (tab, dataset, frames) == ("Interpolate", "fashion", "12")
    box = first.locator("#interp-frames input[type=number]")
    box.fill("8")
    box.press("Enter")
    first.get_by_role("button", name="Interpolate", exact=True).click()
    first.wait_for_timeout(500)
    settled(first, "interp-paths")
    before = interpolation_state(first)
    first.locator("#copy-link").click()
    first.wait_for_function("() => { const e = document.querySelector('#link-box textarea, #link-box input');"
                            " return e && e.value.startsWith('http'); }", timeout=TIMEOUT)
    link = first.locator("#link-box textarea, #link-box input").first.input_value()
    assert "tab=interpolate" in link and "dataset=fashion" in link and "frames=8" in link and "seed_a=7" in link
    first.screenshot(path=str(SHOTS / "14-link-copied.png"))
    fresh = open_page(browser.new_context(viewport={"width": 1400, "height": 1000}))
    fresh.goto(link, timeout=TIMEOUT)
    fresh.wait_for_function(FRAMES_ARE, arg="8", timeout=TIMEOUT)
    settled(fresh, "interp-paths")
    fresh.wait_for_function("(src) => { const i = document.querySelector('#interp-paths img');"
                            " return i && i.src.endsWith(src); }", arg=before[3], timeout=TIMEOUT)
    assert interpolation_state(fresh) == before                # the same tab, dataset, settings and pictures
    fresh.screenshot(path=str(SHOTS / "15-link-opened-fresh.png"))
    assert not fresh.locator("#link-note").inner_text()
    first.context.close()
    fresh.context.close()


def test_clicking_the_map_shows_the_decoded_point(page):
    open_tab(page, "Latent map")
    page.get_by_role("button", name="Draw the map to click").click()
    wait_images(page, "click-map")
    page.locator("#click-map img").click(position={"x": 200, "y": 150})
    wait_images(page, "click-decoded")
    page.wait_for_function("() => document.querySelector('#click-words').innerText.includes('decoded')",
                           timeout=TIMEOUT)
    page.locator("#click-map").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "17-clicked-map.png"))
    no_error_shown(page)


def test_latent_map_tab(page):
    open_tab(page, "Latent map")
    page.get_by_role("button", name="Show the map").click()
    wait_plot(page, "latent-plot")
    legend = page.locator("#latent-plot .legendtext").all_text_contents()
    assert legend[:10] == [str(k) for k in range(10)]
    shot(page, "05-latent")
    no_error_shown(page)


def test_reconstruct_a_drawing(page):
    open_tab(page, "Reconstruct")
    page.locator("#recon-sketch").get_by_role("button", name="Brush").click()
    canvas = page.locator("#recon-sketch canvas").first
    canvas.wait_for(timeout=TIMEOUT)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x, y + i * box["height"] * 0.03)
    page.mouse.up()
    page.locator("#recon-source").get_by_text("drawing", exact=True).click()
    page.get_by_role("button", name="Rebuild").click()
    wait_images(page, "recon-gallery", 6)
    captions = page.locator("#recon-gallery").inner_text()
    assert "error" in captions
    shot(page, "06-reconstruct-drawing")
    no_error_shown(page)


def test_training_tab(page):
    open_tab(page, "Training")
    page.get_by_role("button", name="Show loss curves").click()
    wait_plot(page, "loss-plot")
    shot(page, "07-training")
    no_error_shown(page)


def test_diffusion_tab(page):
    open_tab(page, "Diffusion")
    wait_plot(page, "beta-plot")
    page.get_by_role("button", name="Run the reverse process").click()
    wait_images(page, "reverse-gallery", 10)
    shot(page, "08-diffusion")
    no_error_shown(page)


def test_the_straightness_view_traces_each_path(page):
    open_tab(page, "Diffusion")
    page.get_by_role("button", name="Trace the paths").click()
    wait_images(page, "path-gallery", 1)
    wait_plot(page, "path-plot")
    assert "strays at most" in page.locator("#path-gallery").inner_text()
    page.locator("#path-plot").scroll_into_view_if_needed()
    shot(page, "08b-straightness")
    no_error_shown(page)


def test_the_scrubber_follows_the_step_slider(page):
    open_tab(page, "Diffusion")
    page.wait_for_function("() => document.querySelector('#scrub-gallery') && "
                           "document.querySelector('#scrub-gallery').innerText.includes('step 1 of 20')",
                           timeout=TIMEOUT)
    box = page.locator("#scrub-step input[type=number]")
    box.fill("12")
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#scrub-gallery').innerText.includes('step 12 of 20')",
                           timeout=TIMEOUT)
    wait_images(page, "scrub-gallery", 6)
    assert "ε = ε_no class + s ×" in page.locator("#scrub-sum").inner_text()
    page.locator("#scrub-gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "13-scrubber.png"))
    no_error_shown(page)


def test_train_it_yourself_streams_and_pauses(page):
    open_tab(page, "Train it yourself")
    page.locator("#live-play").click()
    seen = set()
    for _ in range(300):                                   # at least five updates, each a later step
        text = page.locator("#live-status").inner_text()
        if text.startswith("Training"):
            seen.add(text.split(" · ")[1])
        if len(seen) >= 5:
            break
        page.wait_for_timeout(200)
    assert len(seen) >= 5, seen
    wait_images(page, "live-samples")
    wait_plot(page, "live-curves")
    page.locator("#live-pause").click()
    page.wait_for_function("() => document.querySelector('#live-status').innerText.startsWith('Paused')",
                           timeout=TIMEOUT)
    page.wait_for_timeout(2500)               # no update still on its way says "Training" after it
    assert page.locator("#live-status").inner_text().startswith("Paused")
    shot(page, "18-train-it-yourself")
    no_error_shown(page)


def test_scoreboard_tab(page):
    open_tab(page, "Scoreboard")
    page.get_by_role("button", name="Show the scoreboard").click()
    wait_plot(page, "scoreboard-fid")
    page.wait_for_function("() => document.querySelector('#scoreboard-summary').innerText.includes('Closest to real')",
                           timeout=TIMEOUT)
    shot(page, "09-scoreboard")
    no_error_shown(page)
    assert not page.js_errors, page.js_errors


QUIZ_TURN = ("([n, src]) => { const v = document.querySelector('#quiz-verdict').innerText;"
             " const img = document.querySelector('#quiz-picture img');"
             " return v.includes(`(${n} answered so far.)`) && img && img.src !== src &&"
             " img.complete && img.naturalWidth > 0; }")


def test_the_quiz_plays_three_rounds_with_the_keyboard_and_the_buttons(page, app_server):
    """Three pictures answered (two by key, one by button): each answer is judged at once and a new picture follows."""
    from playwright.sync_api import TimeoutError

    open_tab(page, "Real or generated?")
    wait_images(page, "quiz-picture")                       # the first picture comes when the tab opens
    page.evaluate("document.activeElement && document.activeElement.blur()")   # the keys go to the page itself
    verdicts = []
    for answer in ("r", "g", "button"):
        before = page.locator("#quiz-picture img").get_attribute("src")
        if answer == "button":
            page.locator("#quiz-real").click()
        else:
            page.keyboard.press(answer)
        try:
            page.wait_for_function(QUIZ_TURN, arg=[len(verdicts) + 1, before], timeout=90_000)
        except TimeoutError:
            pytest.fail(f"answer {len(verdicts) + 1} ({answer!r}) was not judged: the verdict reads "
                        f"{page.locator('#quiz-verdict').inner_text()!r}, the focus is on "
                        f"{page.evaluate('document.activeElement && document.activeElement.outerHTML.slice(0, 120)')}"
                        f", errors shown: {page.locator('.toast-body').all_inner_texts()}, "
                        f"script errors: {page.js_errors}")
        verdicts.append(page.locator("#quiz-verdict").inner_text())
        page.wait_for_timeout(600)                          # the rule: at most two answers a second
    assert all(("Right!" in v or "Not this time." in v) and "It was " in v for v in verdicts), verdicts
    # a person's answers in the page are the ones the human score counts
    from genzoo.answers import AnswerStore
    assert sum(s.rate.n for s in AnswerStore(app_server.db).scores()) >= len(verdicts)
    shot(page, "11-quiz")
    no_error_shown(page)


def test_the_scoreboard_shows_people_fooled_beside_fid(page, app_server):
    """Human-eye columns filled from a test database of made-up answers (40 each for three models and real ones)."""
    from genzoo.answers import REAL, AnswerStore

    store = AnswerStore(app_server.db)
    for source, fooled in ((REAL, 6), ("vae", 4), ("gan", 15), ("ddpm-cosine", 17)):
        for i in range(40):
            browser, token = f"test-player-{i:03d}", f"{source}-{i}"
            store.serve(token, browser, "mnist", source, i)
            wrong = "generated" if source == REAL else "real"
            store.record(token, browser, wrong if i < fooled else ("real" if source == REAL else "generated"))
    open_tab(page, "Scoreboard")
    page.get_by_role("button", name="Show the scoreboard").click()
    rates = {s.source: s.rate.words() for s in store.scores("mnist")}     # with the answers played above
    page.wait_for_function("(w) => document.querySelector('#scoreboard-table').innerText.includes(w)",
                           arg=rates["gan"], timeout=TIMEOUT)
    wait_plot(page, "scoreboard-people")
    text = page.locator("#scoreboard-table").inner_text()
    assert rates["vae"] in text and rates["ddpm-cosine"] in text
    assert "cgan" in rates or "no answers yet" in text
    summary = page.locator("#scoreboard-summary").inner_text()
    assert f"real pictures were taken for generated ones in {rates[REAL]}" in summary
    page.locator("#scoreboard-people").scroll_into_view_if_needed()
    shot(page, "12-scoreboard-people")
    no_error_shown(page)


def test_models_tab_shows_every_model_and_an_equation(page):
    open_tab(page, "Models")
    page.wait_for_function(
        "() => document.querySelector('#guide-table') && "
        "document.querySelector('#guide-table').innerText.includes('Latent diffusion')",
        timeout=TIMEOUT,
    )
    text = page.locator("#guide-table").inner_text()
    from genzoo.registry import SPECS

    for spec in SPECS.values():
        assert spec.title in text, spec.title
    page.wait_for_selector("#guide-about .katex", timeout=TIMEOUT)
    shot(page, "10-models")
    no_error_shown(page)


TAB_NAMES = ["Data", "Sample", "Pick a class", "Interpolate", "Latent map", "Reconstruct", "Training",
             "Train it yourself", "Diffusion", "Fast diffusion", "Real or generated?", "Scoreboard", "Models"]


@pytest.mark.timeout(400)        # 86 s on a 2-core AVX2 machine with three of the four sets; now two
def test_every_tab_in_both_themes_and_both_datasets(page, app_server):
    """A screenshot of every tab, light on MNIST and dark on Fashion-MNIST (under artifacts/screenshots/themes;
    ``python scripts/screenshots.py`` takes all four sets), and each tab opens with its pictures: the Sample tab's
    rows are there before any button is pressed."""
    folder = SHOTS / "themes"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):             # tabs renamed since an earlier run leave theirs behind
        old.unlink()
    backgrounds = {}
    browser = page.context.browser            # the module's browser: one Playwright session at a time
    for theme in ("light", "dark"):
        pg = open_page(browser, viewport={"width": 1400, "height": 1000})
        pg.goto(f"{app_server.url}?__theme={theme}", wait_until="domcontentloaded", timeout=TIMEOUT)
        pg.get_by_text("GenZoo — see how machines learn to draw").wait_for(timeout=TIMEOUT)
        backgrounds[theme] = pg.evaluate("getComputedStyle(document.querySelector('gradio-app') || "
                                         "document.body).backgroundColor")
        for dataset in {"light": ["MNIST digits"], "dark": ["Fashion-MNIST clothes"]}[theme]:
            pg.get_by_test_id(f"{dataset}-radio-label").click()       # the dataset switch (tables name datasets too)
            for tab in TAB_NAMES:
                open_tab(pg, tab)
                if tab == "Sample" and dataset.startswith("MNIST"):
                    wait_images(pg, "sample-gallery", 3)          # drawn at load, before any click
                pg.screenshot(path=str(folder / f"{theme}-{dataset.split()[0]}-{tab.replace(' ', '_')}.png"))
        pg.close()
    assert len(list(folder.glob("*.png"))) == 2 * len(TAB_NAMES)

    def brightness(css):
        return sum(int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])

    assert brightness(backgrounds["dark"]) < brightness(backgrounds["light"])


def test_a_phone_sized_screen(page, app_server):
    """At 390 x 844 the first page reads without sideways scrolling, the tabs wrap onto lines that fit, and
    the pictures shrink to the screen; the page has its title and favicon."""
    pg = open_page(page.context.browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    try:
        pg.goto(app_server.url, wait_until="domcontentloaded", timeout=TIMEOUT)
        pg.get_by_text("GenZoo — see how machines learn to draw").wait_for(timeout=TIMEOUT)
        wait_images(pg, "data-gallery", 10)
        assert pg.title().startswith("GenZoo")
        icon = pg.request.get(f"{app_server.url}favicon.ico")           # where browsers look for it
        assert icon.ok and icon.body() == (ROOT / "assets" / "favicon.png").read_bytes()
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        tabs = pg.evaluate("[...document.querySelectorAll('[role=tab]')].map(t => "
                           "[t.offsetParent !== null, t.getBoundingClientRect().right])")
        assert len(tabs) == len(TAB_NAMES) and all(seen and right <= 390 + 1 for seen, right in tabs), \
            "every tab should be in sight, wrapped onto lines that fit the screen"
        widths = pg.evaluate("[...document.querySelectorAll('#data-gallery img')].map(i => i.getBoundingClientRect()"
                             ".right)")
        assert widths and max(widths) <= 390 + 1
        pg.screenshot(path=str(SHOTS / "phone-390x844.png"))
        pg.screenshot(path=str(SHOTS / "phone-390x844-full.png"), full_page=True)
    finally:
        pg.close()


@pytest.mark.timeout(300)         # 37-60 s on a slow 2-core machine
def test_the_presenters_tour_visits_every_step(page):
    """Next through every step: each opens its tab, says what to notice in 60 words or fewer, and Back returns."""
    from genzoo.app.text import TOUR

    pg = open_page(page.context.browser, viewport={"width": 1400, "height": 1000})
    pg.goto(page.url, timeout=TIMEOUT)
    pg.get_by_text("Presenter's tour").click()
    tab_names = {"data": "Data", "reconstruct": "Reconstruct", "sample": "Sample", "latent": "Latent map",
                 "diffusion": "Diffusion", "class": "Pick a class", "fast": "Fast diffusion",
                 "scoreboard": "Scoreboard", "quiz": "Real or generated?"}
    for i, (title, query, words) in enumerate(TOUR):
        assert len(words.split()) <= 60, title
        pg.locator("#tour-next").click()
        pg.wait_for_function("(t) => document.querySelector('#tour-text').innerText.includes(t)",
                             arg=f"Step {i + 1} of {len(TOUR)}: {title}.", timeout=TIMEOUT)
        tab = dict(p.split("=") for p in query.split("&"))["tab"]
        pg.wait_for_function("(name) => { const t = document.querySelector('[role=tab][aria-selected=true]');"
                             " return t && t.innerText === name; }", arg=tab_names[tab], timeout=TIMEOUT)
        if i in (3, 6):
            pg.wait_for_timeout(1500)
            pg.screenshot(path=str(SHOTS / f"16-tour-step-{i + 1}.png"))
    pg.locator("#tour-back").click()
    pg.wait_for_function("(t) => document.querySelector('#tour-text').innerText.includes(t)",
                         arg=f"Step {len(TOUR) - 1} of {len(TOUR)}", timeout=TIMEOUT)
    no_error_shown(pg)
    pg.close()
