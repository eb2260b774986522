"""Share links read without a server: what a link sets, and what it says about the parts it cannot show."""
import gradio as gr

from genzoo.app.common import Built
from genzoo.app.links import read


def test_a_link_sets_its_tabs_controls_and_ignores_the_pages_own_parameters():
    with gr.Blocks():
        frames = gr.Slider(3, 16, value=10, step=1)
    tabs = {"sample": Built()._replace(tab="sample", link={}),
            "interpolate": Built()._replace(tab="interpolate", link={"frames": frames})}
    params = {"tab": "interpolate", "dataset": "fashion", "frames": "8", "__theme": "dark", "bogus": "3"}
    tab, dataset, values, notes = read(params, tabs, "sample")
    assert (tab, dataset) == ("interpolate", "fashion") and values == {frames: 8}
    assert notes == ["“bogus” is not a setting of this tab, so it was left out"]    # Gradio's theme is no setting
    assert read({"tab": "nowhere"}, tabs, "sample")[3] == ["there is no tab 'nowhere', so the first one is shown"]
