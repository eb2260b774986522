"""Real or generated? One picture at a time, real or drawn by a model; the visitor answers and sees at once whether
they were right, and after every ten answers their score and which models fooled them. The rules are in
``genzoo.quiz``, the answers and the metric in ``genzoo.answers``."""
from __future__ import annotations

import os
from dataclasses import asdict

import gradio as gr
from PIL import Image

from ..answers import API, PAGE, AnswerStore, StoreError
from ..quiz import Quiz, new_browser_id
from ..quiz_sync import HubSync
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


def page_only(name: str) -> dict:
    """A listener only the page itself can call (Gradio's client libraries cannot)."""
    return {"api_name": name, "api_visibility": "private"}


def verdict_words(v: dict) -> str:
    head = "✅ **Right!**" if v["correct"] else "❌ **Not this time.**"
    return f"{head} It was {v['truth']}. ({v['answered']} answered so far.)"


def build(zoo: Zoo, dataset: gr.Radio, default: str, demo: gr.Blocks) -> Built:
    store = AnswerStore()
    quiz = Quiz(zoo, store)
    repo = os.environ.get("GENZOO_QUIZ_REPO")
    kept = (HubSync(store, repo).start().words if repo else
            "Answers last only as long as this machine runs: they are not copied anywhere else.")
    with gr.Tab("Real or generated?", id="quiz") as tab:
        gr.Markdown(TEXT["quiz"] + "\n\n*" + kept + " No personal data is stored: only a random id kept in "
                    "your browser, never your address.*")
        # the id is random and says nothing about the player; a fixed key (not Gradio's default, new at every start)
        # lets the browser read it back after the app restarts, so a player keeps one id
        saved_id = gr.BrowserState("", storage_key="genzoo-quiz-browser",
                                   secret=os.environ.get("GENZOO_BROWSER_SECRET", "genzoo-quiz-browser-id"))
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

    def next_picture(dataset, browser_id, channel, progress=None):
        try:
            quiz.pools_for(dataset, progress)
            pixels, answer_token = quiz.next(dataset, browser_id, channel)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        pil = Image.fromarray(pixels, mode="L")
        return pil.resize((pil.width * SCALE, pil.height * SCALE), Image.NEAREST), answer_token

    @friendly
    def quiz_next(dataset, browser_id, progress=gr.Progress()):
        """The next quiz picture for a player: a real test picture or one drawn by a model (half each), and the
        token to answer it with. The response does not say which it is. A program's answers are judged, but only
        people's answers in the page count in the human score.

        Args:
            dataset: the dataset, "mnist" or "fashion"
            browser_id: a random id of 8 to 64 letters, digits, "-" or "_", the same for all of one player's answers
        """
        return next_picture(dataset, browser_id, API, progress_adapter(progress))

    @friendly
    def page_next(dataset, browser_id, progress=gr.Progress()):
        return next_picture(dataset, browser_id, PAGE, progress_adapter(progress))

    @friendly
    def quiz_answer(answer_token: str, answer: str, browser_id: str) -> dict:
        """Answer a quiz picture: whether it was right, what the picture really was, how many this browser has
        answered, and after every ten answers a summary of the round.

        Args:
            answer_token: the token quiz_next gave with the picture
            answer: "real" or "generated"
            browser_id: the id the picture was asked for with
        """
        return judged(answer_token, answer, browser_id, API)

    def judged(answer_token, answer, browser_id, channel) -> dict:
        try:
            return asdict(quiz.answer(answer_token, answer, browser_id, channel))
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
            v = judged(answer_token, kind, browser_id, PAGE)
            return verdict_words(v), (v["round_summary"] or gr.skip()), ""
        return handler

    with tab:                         # (an API-only endpoint is a component: it goes inside the tab)
        gr.api(quiz_answer, api_name="quiz_answer", **LANE)
        # programs ask for pictures here (a picture comes back as a file, so it needs the page's picture component);
        # no visitor sees or presses this button
        for_programs = gr.Button(visible=False)
        gr.api(quiz_results, api_name="quiz_results", **LANE)
    for_programs.click(quiz_next, [dataset, browser], [picture, token], **api("quiz_next"), **LANE)
    # the id is settled before a picture is asked for (the page's load event may not have answered yet)
    identify = dict(fn=remember, inputs=[saved_id, browser], outputs=[saved_id, browser], queue=False)
    demo.load(**identify, **api("quiz_browser_id"))
    # the page's own pictures and answers (the ones that count as people's) are private: no API client can send them
    show = dict(fn=page_next, inputs=[dataset, browser], outputs=[picture, token], **LANE)
    nxt.click(**identify, **api("quiz_browser_id_next")).then(**show, **page_only("quiz_show"))

    def quiz_open(ds, browser_id, answer_token, progress=gr.Progress()):
        """The first picture when the tab opens (the one on show stays, if any)."""
        return page_next(ds, browser_id, progress) if not answer_token else (gr.skip(), gr.skip())

    tab.select(**identify, **api("quiz_browser_id_open")).then(
        quiz_open, [dataset, browser, token], [picture, token], **LANE, **page_only("quiz_open"))
    for button, kind in ((real, "real"), (generated, "generated")):
        # the token is cleared with the verdict, so a second press cannot answer the same picture again
        button.click(answered(kind), [token, browser], [verdict, summary, token], **page_only(f"quiz_answer_{kind}"),
                     **LANE).success(**show, **page_only(f"quiz_show_after_{kind}"))
    dataset.change(lambda: ("", None, "", ""), None, [token, picture, verdict, summary], **api("quiz_reset"))
    built = Built()
    return built._replace(tab="quiz", link={})
