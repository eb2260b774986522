"""Broken checkpoints and an unreachable Hub, through a running app: it starts, says what is wrong, and the rest
works."""

import json
import shutil

import pytest
from gradio_client import Client

from genzoo.registry import featured, SPECS
from tests.app_server import AppServer


@pytest.fixture(scope="module")
def broken(app_checkpoints, tmp_path_factory):
    """The smoke checkpoints with one fault per model, served with a Hub repo configured but unreachable."""
    root = tmp_path_factory.mktemp("broken") / "checkpoints"
    shutil.copytree(app_checkpoints, root)
    m = root / "mnist"
    weights = (m / "vae" / "model.safetensors").read_bytes()
    (m / "vae" / "model.safetensors").write_bytes(weights[: len(weights) // 2])          # truncated
    cfg = json.loads((m / "gan" / "config.json").read_text())
    cfg["channels"] = 2 * cfg["channels"]
    (m / "gan" / "config.json").write_text(json.dumps(cfg))                                # does not match the weights
    shutil.rmtree(m / "cvae")                                                              # missing folder
    (m / "ae-8" / "history.json").unlink()                                                 # missing history and grids
    shutil.rmtree(m / "ae-8" / "samples")
    log = root.parent / "app.log"
    server = AppServer(root, log, GENZOO_HUB_REPO="genzoo/unreachable-repo", HF_HUB_OFFLINE="1",
                       HF_HOME=str(root.parent / "hf"))
    yield server, Client(server.url, verbose=False), log
    server.stop()


@pytest.mark.parametrize("name,reason", [
    ("vae", "truncated"),
    ("gan", "does not match its config.json"),
    ("cvae", "lacks config.json and model.safetensors"),
])
def test_a_broken_model_is_unavailable_with_its_reason(broken, name, reason):
    _, client, _ = broken
    with pytest.raises(Exception, match=f"unavailable.*{reason}"):
        client.predict("mnist", [name], 2, 0, "ddim", 5, api_name="/sample")


def test_every_other_model_still_works(broken):
    _, client, _ = broken
    gallery = client.predict("mnist", ["ae-32", "cgan", "ldm"], 2, 0, "ddim", 5, api_name="/sample")
    assert len(gallery) == 3
    gallery, _, rows = client.predict("mnist", "test image", "2", 0, None, api_name="/reconstruct")
    assert [r[0] for r in rows["data"]] == [
        SPECS[n].title for n in featured("reconstruct") if n != "vae"
    ]  # vae is broken
    assert client.predict("mnist", ["ae-8"], 2, api_name="/training_grids") == []       # no grids: nothing to show


def test_the_log_says_the_hub_was_unreachable_and_local_checkpoints_were_used(broken):
    _, _, log = broken
    text = log.read_text()
    assert "genzoo/unreachable-repo unreachable" in text and "using local checkpoints" in text
    assert text.count("unreachable-repo unreachable") == 1          # asked once, not once per model
    assert "mnist/vae unavailable" in text and "Traceback" not in text
