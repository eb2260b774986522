"""Real or generated? One picture at a time, real or drawn by a model; the visitor answers and sees at once whether
they were right, and after every ten answers their score and which models fooled them. The rules are in
``genzoo.quiz``, the answers and the metric in ``genzoo.answers``."""
from __future__ import annotations

import os
from dataclasses import asdict

import gradio as gr
from PIL import Image

from ..answers import AnswerStore, StoreError, start_hub_sync
from ..quiz import Quiz, new_browser_id
from ..zoo import Zoo
from .common import Built, api, friendly, progress_adapter
from .inputs import Textbox
from .text import TEXT

LANE = dict(concurrency_id="quiz", concurrency_limit=4)   # quick once the pictures are drawn: its own lane
SCALE = 8                   # 28 px pictures shown at 224 px, each pixel a crisp square

#: the quiz's keys: R real, G generated, N next picture (ignored while typing, and while the quiz is not shown)
KEYS_JS = """
<script>
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
  const id = {r: 'quiz-real', g: 'quiz-generated', n: 'quiz-next'}[e.key.toLowerCase()];
  const button = id && document.getElementById(id);
  if (!button || button.offsetParent === null) return;
  e.preventDefault();
  button.click();
});
</script>
"""


def keeping(repo: str | None) -> str:
    return (f"Answers are kept in the Hub dataset `{repo}` (a copy is pushed every few minutes)." if repo else
            "Answers last only as long as this machine runs: they are not copied anywhere else.")


def verdict_words(v: dict) -> str:
    head = "✅ **Right!**" if v["correct"] else "❌ **Not this time.**"
    return f"{head} It was {v['truth']}. ({v['answered']} answered so far.)"


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    store = AnswerStore()
    quiz = Quiz(zoo, store)
    repo = os.environ.get("GENZOO_QUIZ_REPO")
    if repo:
        start_hub_sync(store, repo)
    with gr.Tab("Real or generated?", id="quiz") as tab:
        gr.Markdown(TEXT["quiz"] + "\n\n*" + keeping(repo) + " No personal data is stored: only a random id kept in "
                    "your browser, never your address.*")
        saved_id = gr.BrowserState("", storage_key="genzoo-quiz-browser")
        browser = Textbox(visible=False)
        token = Textbox(visible=False)
        with gr.Row(equal_height=True):
            picture = gr.Image(label="Real or generated?", type="filepath", format="png", height=340,
                               interactive=False, buttons=[], elem_id="quiz-picture", scale=2,
                               placeholder="Press “Show me a picture” (or N) to start")
            with gr.Column(scale=1, min_width=220):
                real = gr.Button("Real  (R)", variant="primary", size="lg", elem_id="quiz-real")
                generated = gr.Button("Generated  (G)", variant="primary", size="lg", elem_id="quiz-generated")
                nxt = gr.Button("Show me a picture  (N)", elem_id="quiz-next")
                verdict = gr.Markdown(elem_id="quiz-verdict")
        summary = gr.Markdown(elem_id="quiz-summary")

    def remember(saved, current):
        """This browser's random quiz id: the one in use, the one it keeps, or a new one."""
        known = next((v for v in (current, saved) if isinstance(v, str) and v), None) or new_browser_id()
        return known, known

    @friendly
    def quiz_next(dataset, browser_id, progress=gr.Progress()):
        """The next quiz picture for a browser: a real test picture or one drawn by a model (half each), and the
        token to answer it with. The response does not say which it is.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            browser_id: a random id of 8 to 64 letters, digits, "-" or "_", the same for all of one player's answers
        """
        try:
            quiz.pools_for(dataset, progress_adapter(progress))
            pixels, answer_token = quiz.next(dataset, browser_id)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        pil = Image.fromarray(pixels, mode="L")
        return pil.resize((pil.width * SCALE, pil.height * SCALE), Image.NEAREST), answer_token

    @friendly
    def quiz_answer(answer_token: str, answer: str, browser_id: str) -> dict:
        """Answer a quiz picture: whether it was right, what the picture really was, how many this browser has
        answered, and after every ten answers a summary of the round.

        Args:
            answer_token: the token quiz_next gave with the picture
            answer: "real" or "generated"
            browser_id: the id the picture was asked for with
        """
        try:
            return asdict(quiz.answer(answer_token, answer, browser_id))
        except StoreError as exc:
            raise ValueError(str(exc)) from None

    @friendly
    def quiz_results(dataset: str) -> list[dict]:
        """How often people were fooled by each model (generated pictures judged real) and how often real pictures
        were judged generated, with 95 % Wilson intervals and the number of answers.

        Args:
            dataset: the dataset, "mnist" or "fashion"
        """
        try:
            return [{"source": s.source, "rate": s.rate.value, "ci95": list(s.rate.interval), "answers": s.rate.n,
                     "measure": "false alarm" if s.source == "real" else "fooled"} for s in store.scores(dataset)]
        except StoreError as exc:
            raise ValueError(str(exc)) from None

    def answered(kind):
        @friendly
        def handler(answer_token, browser_id):
            v = quiz_answer(answer_token, kind, browser_id)
            return verdict_words(v), (v["round_summary"] or gr.skip()), ""
        return handler

    with tab:                         # (an API-only endpoint is a component: it goes inside the tab)
        gr.api(quiz_answer, api_name="quiz_answer", **LANE)
        gr.api(quiz_results, api_name="quiz_results", **LANE)
    # the id is settled before a picture is asked for (the page's load event may not have answered yet)
    identify = dict(fn=remember, inputs=[saved_id, browser], outputs=[saved_id, browser], queue=False)
    demo.load(**identify, **api("quiz_browser_id"))
    show = dict(fn=quiz_next, inputs=[dataset, browser], outputs=[picture, token], **LANE)
    nxt.click(**identify, **api("quiz_browser_id_next")).then(**show, **api("quiz_next"))

    def quiz_open(ds, browser_id, answer_token, progress=gr.Progress()):
        """The first picture when the tab opens (the one on show stays, if any)."""
        return quiz_next(ds, browser_id, progress) if not answer_token else (gr.skip(), gr.skip())

    tab.select(**identify, **api("quiz_browser_id_open")).then(
        quiz_open, [dataset, browser, token], [picture, token], **LANE, **api("quiz_open"))
    for button, kind in ((real, "real"), (generated, "generated")):
        # the token is cleared with the verdict, so a second press cannot answer the same picture again
        button.click(answered(kind), [token, browser], [verdict, summary, token], **api(f"quiz_answer_{kind}"),
                     **LANE).success(**show, **api(f"quiz_next_after_{kind}"))
    dataset.change(lambda: ("", None, "", ""), None, [token, picture, verdict, summary], **api("quiz_reset"))
    built = Built()
    return built._replace(tab="quiz", link={})
