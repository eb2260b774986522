"""The app through its public HTTP API (gradio_client) against a server started here."""
import json
import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from genzoo.data import DATASETS
from genzoo.evaluation import GUIDANCE_CURVE
from genzoo.registry import featured, GENERATIVE, sampler_settings, SPECS


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


def size(path):
    with Image.open(path) as im:
        return im.size


def grid_size(n, nrow, scale, pad=2):
    cols, rows = min(n, nrow), -(-n // nrow)
    return ((28 + pad) * cols + pad) * scale, ((28 + pad) * rows + pad) * scale


def figure(plot):
    assert plot["type"] == "plotly"
    return json.loads(plot["plot"])


@pytest.fixture
def drawing(tmp_path):
    """A '1'-like stroke on a transparent canvas, as the sketchpad sends it."""
    a = np.zeros((280, 280, 4), dtype=np.uint8)
    a[40:240, 130:150] = (0, 0, 0, 255)
    path = tmp_path / "drawing.png"
    Image.fromarray(a, "RGBA").save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}


def test_every_view_has_a_named_endpoint(client, app_server):
    """The public actions are documented; every other view keeps its name and stays callable (the tests below call
    them), but only serves the page, so it is left out of the API page and the MCP tools."""
    import urllib.request

    from genzoo.app.common import PUBLIC

    documented = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert documented == {f"/{n}" for n in PUBLIC}
    config = json.load(urllib.request.urlopen(f"{app_server.url.rstrip('/')}/config", timeout=30))
    names = {d.get("api_name") for d in config["dependencies"]}
    assert {"data", "sample", "pick_class", "interpolate", "latent_map", "latent_point", "latent_locate",
            "latent_drawing", "reconstruct", "training_grids", "loss_curves", "schedules", "noising",
            "reverse_process", "scoreboard", "speed", "class_names", "sample_on_load", "switch_redraw",
            "link_redraw", "tour_next_redraw"} <= names


def test_mcp_server_lists_the_public_actions_as_tools_and_runs_one(app_server):
    """An AI assistant's view: Gradio's MCP server at /gradio_api/mcp/ offers the documented actions as tools."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def session():
        async with streamablehttp_client(f"{app_server.url.rstrip('/')}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = {t.name: t for t in (await s.list_tools()).tools}
                result = await s.call_tool("scoreboard", {"dataset": "mnist"})
                return tools, result

    tools, result = asyncio.run(asyncio.wait_for(session(), 90))
    from genzoo.app.common import PUBLIC

    assert set(tools) == set(PUBLIC)
    assert "same seed" in tools["sample"].inputSchema["properties"]["seed"]["description"]
    # an agent reads plain, described parameters: no abbreviations
    for tool in tools.values():
        for name, prop in tool.inputSchema["properties"].items():
            assert (len(name) >= 4 or name == "n") and prop.get("description"), (tool.name, name)
    assert list(tools["sample"].inputSchema["properties"]) == ["dataset", "models", "n", "seed", "sampler", "steps"]
    assert all(t.description for t in tools.values())
    assert not result.isError and result.content


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_data_view_shows_every_class_with_counts(client, dataset):
    gallery, table = client.predict(dataset, api_name="/data")
    assert [g["caption"] for g in gallery] == (
        [f"digit {k}" for k in range(10)] if dataset == "mnist" else list(DATASETS[dataset].class_names))
    rows = table["data"]
    assert len(rows) == 11 and rows[-1][0] == "all classes"
    assert sum(r[1] for r in rows[:-1]) == rows[-1][1] == 300          # the synthetic training set
    assert size(gallery[0]["image"]) == grid_size(12, 4, 3)


def test_sample_draws_one_grid_per_model_with_timing(client):
    gallery = client.predict("mnist", ["vae", "gan", "ddpm-cosine", "ldm"], 6, 3, "ddim", 5, api_name="/sample")
    assert len(gallery) == 4
    assert gallery[0]["caption"].startswith("VAE (beta = 1) — ") and gallery[0]["caption"].endswith(" s")
    assert all(size(g["image"]) == grid_size(6, 8, 3) for g in gallery)
    again = client.predict("mnist", ["vae"], 6, 3, "ddim", 5, api_name="/sample")
    assert np.array_equal(np.asarray(Image.open(again[0]["image"])), np.asarray(Image.open(gallery[0]["image"])))


def test_sample_with_an_unavailable_model_says_why(client):
    with pytest.raises(Exception, match="unavailable"):
        client.predict("fashion", ["ddpm-cosine"], 4, 0, "ddim", 5, api_name="/sample")


def test_a_checkpoint_still_in_training_says_so(client):
    gallery = client.predict("fashion", ["gan", "vae"], 4, 0, "ddim", 5, api_name="/sample")
    assert gallery[0]["caption"].startswith("GAN (still training: 1 of 3 epochs) — ")
    assert gallery[1]["caption"].startswith("VAE (beta = 1) — ")
    gallery = client.predict("fashion", ["gan"], 1, api_name="/training_grids")
    assert gallery[0]["caption"] == "GAN — epoch 1 of 1 (training under way: 1 of 3 epochs so far)"


def test_pick_class_draws_with_every_conditional_model(client):
    gallery = client.predict("mnist", "7", 2.0, 3, 0, api_name="/pick_class")
    assert [g["caption"].split(" — ")[0] for g in gallery] == [
        "Conditional VAE", "Conditional GAN", "Diffusion (linear schedule)", "Diffusion (cosine schedule)",
        "Fast diffusion (4 steps)", "Latent diffusion", "Flow matching", "MeanFlow (1 step)",
        "Normalizing flow"]   # not the PixelCNN:
    # 784 network runs a picture are asked for in Sample
    strong = client.predict("mnist", "7", 4.0, 3, 0, api_name="/pick_class")       # beyond what the student learned
    assert "guided at 2.5: it learned strengths 1 to 2.5" in strong[4]["caption"]
    with pytest.raises(Exception, match="unknown class"):
        client.predict("mnist", "Sneaker", 2.0, 3, 0, api_name="/pick_class")


def test_the_guidance_slider_starts_at_each_datasets_own_strength(client):
    from genzoo.registry import DEFAULT_GUIDANCE

    assert DEFAULT_GUIDANCE["fashion"] != DEFAULT_GUIDANCE["mnist"]
    for dataset, strength in DEFAULT_GUIDANCE.items():
        other = next(v for k, v in DEFAULT_GUIDANCE.items() if k != dataset)
        assert client.predict(dataset, other, api_name="/guidance_on_switch") == strength   # it followed
    assert client.predict("fashion", 3.0, api_name="/guidance_on_switch") == {"__type__": "update"}   # it stays


def test_interpolate_gives_paths_gif_and_smoothness(client, drawing):
    paths, gif, gif_file, table = client.predict("mnist", "1", 0, "7", 0, None, 1, 2, 6, api_name="/interpolate")
    w, h = size(paths)
    assert w == 260 + grid_size(8, 8, 2)[0]                       # label column + endpoints and 6 frames
    assert h >= 5 * grid_size(8, 8, 2)[1] + 6 * 8                 # five paths, one row each
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 2 * 6 - 2      # forwards, then back
    assert [r[0] for r in table["data"]][:3] == ["Autoencoder (8-D)", "Autoencoder (32-D)", "VAE (beta = 1)"]
    assert all(r[1] >= 1.0 for r in table["data"])
    with_drawing, _, _, table2 = client.predict("mnist", "1", 0, "7", 0, drawing, 1, 2, 4, api_name="/interpolate")
    assert size(with_drawing)[0] == 260 + grid_size(6, 6, 2)[0] and len(table2["data"]) == 5


def test_latent_map_has_ten_classes_and_decodes_points(client):
    plot, plane, note = client.predict("mnist", "vae", api_name="/latent_map")
    fig = figure(plot)
    assert [t["name"] for t in fig["data"]] == [str(k) for k in range(10)]
    assert "main direction 1" in fig["layout"]["xaxis"]["title"]["text"]
    assert plane is None and "main directions" in note
    plot2d, plane2d, _ = client.predict("mnist", "vae-2d", api_name="/latent_map")
    assert figure(plot2d)["layout"]["xaxis"]["title"]["text"] == "code number 1"
    assert size(plane2d) == grid_size(225, 15, 2)
    assert size(client.predict("mnist", "vae", 0.5, -0.5, api_name="/latent_point")) == (112, 112)
    u, v, picked, decoded = client.predict("mnist", "ae-8", "3", 0, api_name="/latent_locate")
    assert isinstance(u, float) and size(picked) == size(decoded) == (112, 112)
    _, _, cvae_note = client.predict("mnist", "cvae", api_name="/latent_map")      # it says which class it decodes
    assert "decoded as class '0'" in cvae_note and "decoded as class" not in note


def test_latent_drawing_marks_the_point_and_finds_neighbours(client, drawing):
    plot, gallery = client.predict("mnist", "vae", drawing, api_name="/latent_drawing")
    assert figure(plot)["data"][-1]["name"] == "your drawing"
    assert len(gallery) == 7 and gallery[0]["caption"].startswith("your drawing")
    with pytest.raises(Exception, match="draw something first"):
        client.predict("mnist", "vae", None, api_name="/latent_drawing")


def test_reconstruct_test_image_and_drawing(client, drawing):
    gallery, slider, table = client.predict("mnist", "test image", "2", 1, None, api_name="/reconstruct")
    assert [g["caption"].split(" — ")[0] for g in gallery] == ["input"] + [
        SPECS[n].title for n in featured("reconstruct")
    ]
    assert "Autoencoder (32-D)" in gallery[2]["caption"] and "VAE (beta = 10)" in gallery[-1]["caption"]
    assert len(slider) == 2 and all(size(p) == (112, 112) for p in slider)
    assert all(0 <= r[1] <= 1 for r in table["data"])
    gallery, _, _ = client.predict("mnist", "drawing", "2", 1, drawing, api_name="/reconstruct")
    assert len(gallery) == 1 + len(featured("reconstruct"))
    # only the autoencoders that exist for Fashion-MNIST appear
    gallery, _, _ = client.predict("fashion", "test image", "Bag", 0, None, api_name="/reconstruct")
    assert [g["caption"].split(" — ")[0] for g in gallery] == ["input", "Autoencoder (8-D)", "VAE (beta = 1)"]


def test_training_grids_and_curves(client):
    gallery = client.predict("mnist", ["vae", "gan"], 2, api_name="/training_grids")
    assert [g["caption"] for g in gallery] == ["VAE (beta = 1) — epoch 2 of 2", "GAN — epoch 2 of 2"]
    assert size(gallery[0]["image"]) == (grid_size(20, 10, 1)[0] * 2, grid_size(20, 10, 1)[1] * 2)   # smoke grids: 20
    loss, gan = client.predict("mnist", ["vae", "gan"], api_name="/loss_curves")
    names = [t["name"] for t in figure(loss)["data"]]
    assert "VAE (beta = 1): training" in names and "GAN: critic loss" in names
    assert [t["name"] for t in figure(gan)["data"]] == ["GAN: D(real image)", "GAN: D(generated image)"]


def test_diffusion_views(client):
    beta, abar, snr = client.predict(api_name="/schedules")
    for plot in (beta, abar, snr):
        fig = figure(plot)
        assert [t["name"] for t in fig["data"]] == ["linear", "cosine"]
        assert fig["layout"]["xaxis"]["title"]["text"] == "step t"
    noised = client.predict("mnist", "5", 0, 500, api_name="/noising")
    assert [g["caption"] for g in noised] == ["clean image", "linear schedule at t = 500", "cosine schedule at t = 500"]
    frames, final = client.predict("mnist", "ddpm-cosine", "3", 0, 12, api_name="/reverse_process")
    assert (
        len(frames) == 10 and frames[0]["caption"].startswith("t = 999") and frames[-1]["caption"].startswith("t = 0")
    )
    assert size(frames[0]["image"]) == (224, 112) and size(final) == (112, 112)


def test_scoreboard_reads_the_measurements(client):
    table, fid, scatter, guidance, people, summary = client.predict("mnist", api_name="/scoreboard")
    rows = {r[0]: r for r in table["data"]}
    assert table["headers"][-1] == "people fooled (95 % interval)"
    assert all(r[-1] == "no answers yet" or r[-1].startswith("too few answers") or "answers)" in r[-1]
               for r in table["data"])
    assert figure(people)["layout"]["yaxis"]["range"] == [0, 1]
    assert set(rows) == {"VAE (beta = 1)", "GAN", "Conditional GAN", "Diffusion (cosine schedule)"}
    col = {h: i for i, h in enumerate(table["headers"])}
    runs, accuracy, copies = col["network runs per picture"], col["class accuracy ↑"], col[
        "sits on a training picture (chance: 1 %)"]
    default_steps = sampler_settings("ddpm-cosine", "mnist").steps          # the referee's choice (8 steps on MNIST)
    assert rows["Diffusion (cosine schedule)"][runs] == default_steps and rows["GAN"][runs] == 1
    assert rows["Conditional GAN"][accuracy] is not None and rows["GAN"][accuracy] is None
    assert all(r[copies].endswith("%") or "copies" in r[copies] for r in rows.values())
    assert [t["x"] for t in figure(fid)["data"]][0] == [r[0] for r in table["data"]]
    assert len(figure(scatter)["data"]) == 4
    acc, fid_curve = figure(guidance)["data"]
    curve = "Diffusion (cosine schedule) (20 pictures a point, UniPC 8, mid-way)"      # as it was drawn
    assert (acc["name"], fid_curve["name"]) == (f"{curve}: class accuracy", f"{curve}: FID")
    assert acc["x"] == fid_curve["x"] == list(GUIDANCE_CURVE) and fid_curve["yaxis"] == "y2"
    assert "Closest to real pictures" in summary and "blurrier" in summary
    with pytest.raises(Exception, match="no measurements"):
        client.predict("fashion", api_name="/scoreboard")


def test_speed_measures_every_model(client):
    table = client.predict("mnist", api_name="/speed")
    rows = {r[0]: r for r in table["data"]}
    assert len(rows) == len(GENERATIVE) and all(r[4] == "ready" for r in rows.values())
    assert rows["Diffusion (cosine schedule)"][2] == sampler_settings("ddpm-cosine", "mnist").steps
    assert rows["GAN"][2] == 1
    assert all(r[1] > 0 and r[3] > 0 for r in rows.values())


def test_dataset_switch_updates_class_names_and_which_models_are_unavailable(client, app_server):
    import urllib.request

    config = json.load(urllib.request.urlopen(f"{app_server.url.rstrip('/')}/config", timeout=30))
    pickers = len(next(d for d in config["dependencies"] if d.get("api_name") == "class_names")["inputs"]) - 1
    fashion = client.predict("fashion", *["7"] * pickers, api_name="/class_names")
    assert "Ankle boot" in json.dumps(fashion) and "Diffusion (cosine schedule) (unavailable)" in json.dumps(fashion)
    assert fashion[0]["value"] == "T-shirt/top"                     # "7" is no class of Fashion-MNIST
    kept = client.predict("fashion", *["Trouser"] * pickers, api_name="/class_names")
    assert kept[0]["value"] == "Trouser"                            # a class it has stays (a link may have set it)
    mnist = json.dumps(client.predict("mnist", *["7"] * pickers, api_name="/class_names"))
    assert "Ankle boot" not in mnist and "(unavailable)" not in mnist


def test_model_guide(client):
    table, advice = client.predict("mnist", api_name="/guide")
    rows = {r[0]: r for r in table["data"]}
    assert len(rows) == len(SPECS)
    assert rows["GAN"][1:6] == ["yes", "no", "no", "yes", "no"]                 # no encoder, no likelihood
    assert rows["VAE (beta = 1)"][3:6] == ["yes", "yes", "a lower bound (the ELBO), in nats"]
    assert rows["Evaluator classifier"][1] == "no"
    assert str(rows["Diffusion (cosine schedule)"][6]).startswith(
        "13 (UniPC, 8 steps, guided mid-way only); DDPM: 1000")
    assert str(rows["Diffusion (linear schedule)"][6]).startswith(
        "14 (DPM-Solver++, 10 steps, guided mid-way only); DDPM: 1000")
    assert "Which model should I use?" in advice
    about, layers = client.predict("mnist", "ddpm-cosine", api_name="/guide_model")
    assert r"\sqrt{\bar\alpha_t}" in about and "trained 2 epochs" in about
    import re

    assert sum(r[3] for r in layers["data"]) == int(re.search(r"([\d,]+) parameters", about).group(1).replace(",", ""))
    shapes = {r[0]: r[2] for r in layers["data"]}
    channels = SPECS["ddpm-cosine"].tiny["channels"]                    # the smoke checkpoint's size
    assert shapes["net.conv_in"] == f"{channels}×28×28" and shapes["net.out.2"] == "1×28×28"


def test_the_remaining_endpoints(client):
    """Every other named endpoint, so that each api_name is exercised at least once."""
    assert size(client.predict("mnist", "vae", 0.0, 1.0, api_name="/latent_point_v")) == (112, 112)
    assert len(client.predict("mnist", ["vae"], 1, api_name="/training_grids_models")) == 1
    seed = client.predict(api_name="/new_seed")
    assert 0 <= seed <= 99_999
    assert len(client.predict("mnist", ["gan"], 2, seed, "ddim", 50, api_name="/sample_new_seed")) == 1
    for api in ("/data_on_switch", "/data_on_load"):
        gallery, table = client.predict("fashion", api_name=api)
        assert gallery[-1]["caption"] == "Ankle boot" and len(table["data"]) == 11
    table, advice = client.predict("fashion", api_name="/guide_on_switch")
    assert len(table["data"]) == len(SPECS) and "Which model" in advice
    about, layers = client.predict("fashion", "gan", api_name="/guide_model_on_load")
    assert "min_G" in about and layers["data"]


@pytest.mark.parametrize("sampler", ["dpm++2m", "unipc"])
def test_sample_with_the_fast_solvers(client, sampler):
    gallery = client.predict("mnist", ["ddpm-cosine", "ldm"], 4, 0, sampler, 5, api_name="/sample")
    assert [g["caption"].split(" — ")[0] for g in gallery] == ["Diffusion (cosine schedule)", "Latent diffusion"]
    with pytest.raises(Exception, match="not in the list of choices"):      # Gradio's own check names the choices
        client.predict("mnist", ["ddpm-cosine"], 4, 0, "rk4", 5, api_name="/sample")


def test_a_model_asked_for_another_familys_sampler_keeps_its_own_and_says_so(client):
    gallery = client.predict("mnist", ["ddpm-cosine", "flow", "vae"], 4, 0, "euler", 5, api_name="/sample")
    captions = [g["caption"] for g in gallery]
    assert "keeps its own sampler: UniPC, 5 steps" in captions[0] and "keeps its own" not in captions[1]
    assert "keeps its own" not in captions[2]                          # one pass: no sampler to keep


def test_how_diffusion_got_fast_draws_one_noise_with_ever_fewer_network_runs(client):
    gallery, plot = client.predict("mnist", "3", 0, False, api_name="/fast_diffusion")
    captions = [item["caption"] for item in gallery]
    runs = [int(c.split(" network runs")[0].rsplit("— ", 1)[1].replace(",", "")) for c in captions]
    assert len(captions) >= 7 and all(" ms here, " in c for c in captions)
    assert captions[0].startswith("Diffusion (cosine schedule) · DDIM, 50 steps")
    teacher = [r for r, c in zip(runs, captions) if c.startswith("Diffusion (cosine")]
    # guided: two runs a step; DDIM, then DPM-Solver++, then the app's own setting (UniPC, guided mid-way only)
    assert teacher == [100, 40, 20, 40, 20, 10, 13]
    assert captions[6].startswith("Diffusion (cosine schedule) · UniPC, 8 steps, guided mid-way only "
                                  "(the app's choice) — 13 network runs")
    assert sum("the app's choice" in c for c in captions) == 1
    student = [r for r, c in zip(runs, captions) if c.startswith("Fast diffusion")]
    assert student and captions[-1].startswith("Fast diffusion")   # one run a step, at the steps it learned
    assert figure(plot)["layout"]["xaxis"]["type"] == "log"
    with_ddpm, _ = client.predict("mnist", "3", 0, True, api_name="/fast_diffusion")
    assert with_ddpm[0]["caption"].startswith("Diffusion (cosine schedule) · DDPM, 1,000 steps — 2000 network runs")


def test_the_scrubber_shows_one_step_for_the_pixel_and_the_latent_model(client):
    for name in ("ddpm-cosine", "ldm"):
        tiles, words = client.predict("mnist", name, "3", 0, 1.5, 10, api_name="/scrub")
        captions = [t["caption"] for t in tiles]
        assert len(tiles) == 6 and captions[0].startswith("step 10 of 20 (t = ")
        assert captions[1] == "guess: the final picture"
        assert words.startswith("ε = ε_no class + s × (ε_class − ε_no class) = ")
    with pytest.raises(Exception, match="not in the list of choices|two parts"):
        client.predict("mnist", "ddpm-fast", "3", 0, 1.5, 10, api_name="/scrub")
    with pytest.raises(Exception, match="greater than maximum value 20"):       # the slider's own check
        client.predict("mnist", "ddpm-cosine", "3", 0, 1.5, 21, api_name="/scrub")


def test_clicking_the_map_decodes_that_point(client):
    picture, words = client.predict("mnist", "vae", "PCA", False, api_name="/click_map")
    assert size(picture) == (640, 640) and "PCA keeps only the two directions" in words
    decoded, caption = client.predict("mnist", "vae", "PCA", 320, 200, api_name="/latent_click")
    u, v = (float(x) for x in caption.split("(")[1].split(")")[0].split(", "))
    same = client.predict("mnist", "vae", u, v, api_name="/latent_point")   # the point the click names
    with Image.open(decoded) as a, Image.open(same) as b:
        assert np.abs(np.asarray(a, float) - np.asarray(b, float)).mean() < 1.0
    _, words = client.predict("mnist", "vae", "t-SNE", True, api_name="/click_map")
    assert "t-SNE keeps near neighbours near" in words
    _, caption = client.predict("mnist", "vae", "t-SNE", 320, 320, api_name="/latent_click")
    assert caption.startswith("the nearest test picture's code")
    with pytest.raises(Exception, match="within 0 to 640 pixels"):
        client.predict("mnist", "vae", "PCA", 900, 10, api_name="/latent_click")


def test_likelihoods_sit_beside_the_scoreboard(client):
    words, table, paradox = client.predict("mnist", api_name="/likelihoods")
    rows = {r[0]: r for r in table["data"]}
    assert set(rows) == {"VAE (beta = 1)", "PixelCNN", "Normalizing flow"}
    assert rows["PixelCNN"][1] == "the exact likelihood" and rows["VAE (beta = 1)"][1].startswith("a lower bound")
    assert re.fullmatch(r"[\d.]+ with 100 draws \(one: [\d.]+; 20 pictures\)",
                        rows["VAE (beta = 1)"][3]) and rows["Normalizing flow"][3] == "—"
    assert all(0 < r[2] < 16 and 0 < r[4] < 16 for r in rows.values())           # bits per pixel, both datasets
    assert "Published, for comparison (MNIST): RealNVP 1.06" in words and "**The paradox**" in words
    bars = figure(paradox)["data"]
    assert len(bars) == 2 * len(rows) and {b["name"] for b in bars} == {
        "its own test pictures (MNIST digits)", "test pictures of Fashion-MNIST clothes"}
    for b in bars:                                  # each histogram holds (almost) every picture of its set
        assert 90 <= sum(b["y"]) <= 100.001
    words, table, _ = client.predict("fashion", api_name="/likelihoods")
    assert "No likelihoods measured for Fashion-MNIST clothes yet" in words and not table["data"]


def test_how_surprising_a_picture_is_to_each_likelihood_model(client):
    table = client.predict("mnist", "test image", "3", 0, None, api_name="/surprise")
    rows = table["data"]
    assert [r[0] for r in rows] == ["VAE (beta = 1)", "PixelCNN", "Normalizing flow"]
    assert all(r[1] == "MNIST digits" and r[2] > 0 for r in rows)
    assert all(re.fullmatch(r"(more|less) surprising than \d+ % of its test pictures", r[3]) for r in rows)
