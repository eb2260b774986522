"""Bad input gets a clear message and the server stays up; file routes serve only what the app means to."""
import urllib.error
import urllib.request

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


# out-of-range numbers are refused by Gradio's own checks on the controls, or by the views: either way a sentence
OUT_OF_RANGE = "less than minimum value|greater than maximum value|must lie between"


@pytest.mark.parametrize("args,message", [
    (("mnist", ["vae"], 0, 0, "ddim", 50), "less than minimum value 1"),
    (("mnist", ["vae"], 10_000, 0, "ddim", 50), "greater than maximum value 64"),
    (("mnist", ["vae"], 4, -5, "ddim", 50), "less than minimum value 0"),
    (("mnist", ["vae"], 4, 2**40, "ddim", 50), OUT_OF_RANGE),
    (("mnist", [], 4, 0, "ddim", 50), "pick at least one model"),
    (("mnist", ["ddpm-cosine"], 4, 0, "ddim", 0), OUT_OF_RANGE),
])
def test_bad_sample_requests_get_a_clear_message(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/sample")
    assert client.predict("mnist", ["vae"], 1, 0, "ddim", 50, api_name="/sample")      # still serving


@pytest.mark.parametrize("args,message", [
    (("mnist", "7", 11.0, 4, 0), OUT_OF_RANGE),
    (("mnist", "seven", 2.0, 4, 0), "unknown class"),
])
def test_bad_class_requests(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/pick_class")


def test_interpolation_frames_and_image_number_are_bounded(client):
    with pytest.raises(Exception, match=OUT_OF_RANGE):
        client.predict("mnist", "1", 0, "7", 0, None, 1, 2, 500, api_name="/interpolate")
    with pytest.raises(Exception, match="image number must lie between"):
        client.predict("mnist", "1", 99_999, "7", 0, None, 1, 2, 5, api_name="/interpolate")


def _upload(tmp_path, array, mode):
    path = tmp_path / f"upload-{mode}.png"
    Image.fromarray(array, mode).save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}


@pytest.mark.parametrize("args,message", [
    (("mnist", ["vae"], 4, "abc", "ddim", 50), "Seed: 'abc' is not a value this control accepts"),
    (("mnist", ["vae"], None, 0, "ddim", 50), "How many pictures: None is not a value"),
    (("mnist", ["vae"], 4, 0, "rk4", 50), "not in the list of choices"),
    (("cifar", ["vae"], 4, 0, "ddim", 50), "not in the list of choices"),
    (("mnist", ["no-such-model"], 4, 0, "ddim", 50), "not in the list of choices"),
])
def test_wrong_types_and_unknown_names_get_a_clear_message(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/sample")


def test_guidance_must_be_a_number_and_only_diffusion_models_denoise(client):
    with pytest.raises(Exception, match="Guidance strength.*'lots' is not a value"):
        client.predict("mnist", "7", "lots", 4, 0, api_name="/pick_class")
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict("mnist", "gan", "7", 0, 10, api_name="/reverse_process")


def test_a_file_that_is_not_a_picture_is_refused(client, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture")
    upload = {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}
    with pytest.raises(Exception, match="not a picture GenZoo can read"):
        client.predict("mnist", "drawing", "2", 0, upload, api_name="/reconstruct")


@pytest.mark.parametrize("side", [5000, 10_000])
def test_a_huge_picture_is_refused_before_it_is_decoded(client, tmp_path, side):
    """10,000 x 10,000 white pixels compress to ~120 kB (under the upload limit) but would take 100 MB decoded."""
    path = tmp_path / "huge.png"
    Image.new("L", (side, side), 255).save(path)
    upload = {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}
    with pytest.raises(Exception, match="GenZoo reads pictures of up to 16,000,000 pixels"):
        client.predict("mnist", "drawing", "2", 0, upload, api_name="/reconstruct")


def test_empty_and_all_white_drawings_are_refused(client, tmp_path):
    empty = _upload(tmp_path, np.zeros((280, 280, 4), np.uint8), "RGBA")
    with pytest.raises(Exception, match="draw something first|empty"):
        client.predict("mnist", "drawing", "2", 0, empty, api_name="/reconstruct")
    white = _upload(tmp_path, np.full((280, 280, 3), 255, np.uint8), "RGB")
    with pytest.raises(Exception, match="empty|nothing stands out"):
        client.predict("mnist", "drawing", "2", 0, white, api_name="/reconstruct")


def test_colour_and_tiny_drawings(client, tmp_path):
    colour = np.full((100, 100, 3), 255, np.uint8)
    colour[20:80, 45:55] = (200, 30, 30)  # a red stroke on white
    gallery, _, _ = client.predict(
        "mnist", "drawing", "2", 0, _upload(tmp_path, colour, "RGB"), api_name="/reconstruct"
    )
    assert gallery[0]["caption"] == "input"
    with pytest.raises(Exception, match="empty|not an image"):
        client.predict("mnist", "drawing", "2", 0, _upload(tmp_path, np.zeros((1, 1), np.uint8), "L"),
                       api_name="/reconstruct")


@pytest.mark.parametrize("path", ["app.py", "checkpoints/mnist/vae/config.json", "../../etc/passwd", "/etc/passwd",
                                  "genzoo/app/__init__.py"])
def test_file_routes_serve_nothing_outside_the_app(app_server, path):
    for prefix in ("gradio_api/file=", "file="):
        try:
            with urllib.request.urlopen(app_server.url + prefix + path, timeout=10) as r:
                body = r.read()
            assert b"root:" not in body and b"import" not in body and b"latent_dim" not in body, (prefix, path)
            assert r.status != 200 or body.strip().startswith(b"<!doctype html>") or body == b"", (prefix, path)
        except urllib.error.HTTPError as exc:
            assert exc.code in (403, 404, 400), (prefix, path, exc.code)


def test_uploads_over_the_size_limit_are_refused(app_server):
    """``max_file_size="5mb"`` in app.py: a 6 MB upload is refused with HTTP 413 before it reaches any view."""
    import httpx

    r = httpx.post(app_server.url + "gradio_api/upload", files={"files": ("big.png", b"\0" * (6 * 2**20), "image/png")},
                   timeout=30)
    assert r.status_code == 413 and "5" in r.text
    small = httpx.post(app_server.url + "gradio_api/upload", files={"files": ("ok.png", b"\0" * 1000, "image/png")},
                       timeout=30)
    assert small.status_code == 200


@pytest.mark.parametrize("args,message", [
    (("mnist", ["vae"], 10_000), "greater than maximum value"),
    (("mnist", ["vae"], -1), "less than minimum value"),
])
def test_the_epoch_slider_is_bounded(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/training_grids")


def test_negative_guidance_is_refused(client):
    with pytest.raises(Exception, match=OUT_OF_RANGE):
        client.predict("mnist", "7", -1.0, 4, 0, api_name="/pick_class")


def test_every_input_control_gives_clear_messages_without_patching_gradio(tmp_path):
    """Each control a listener reads is one of GenZoo's guarded subclasses (no rebinding of Gradio's methods), and it
    still draws as Gradio's own front-end component."""
    import gradio as gr

    from genzoo.app import build_app
    from genzoo.app.inputs import Guarded
    from genzoo.zoo import Zoo

    demo = build_app(Zoo(root=tmp_path, datasets=("mnist",), names=[]))
    # (a State's value never comes from the visitor; an API-only endpoint's typed values are checked by its function)
    inputs = {id(b): b for fn in demo.fns.values() for b in fn.inputs if isinstance(b, gr.components.Component)
              and not isinstance(b, (gr.State, gr.BrowserState, gr.components.api_component.Api))}
    assert inputs
    for block in inputs.values():
        assert isinstance(block, Guarded), f"{type(block).__name__} {block.label!r} is not guarded"
        assert "preprocess" not in vars(block)
        gradio_class = next(c for c in type(block).__mro__ if c.__module__.startswith("gradio."))
        assert block.get_block_name() == gradio_class().get_block_name()
    with pytest.raises(gr.Error, match="Seed: 'seven' is not a value"):
        next(b for b in inputs.values() if b.label == "Seed").preprocess("seven")
