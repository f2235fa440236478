"""User text is shown as text (issue 11, finding 7): a model named with Markdown / HTML is neither
rendered bold nor made into a link or a remote image, on the pages or in the Compare chart."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import lab
from core.compare import table as compare
from core.compare.figures import accuracy_figure
from core.config import REPO_ROOT
from db import repository as repo
from pages.widgets import plain
from tests.stored_results import store_benchmark

HOSTILE = "**net** ![pixel](http://attacker.example/p.png) <b>x</b> :red[alarm] $x^2$"


@pytest.fixture
def hostile_lab(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir, name=HOSTILE)
    store_benchmark(model.id, precision="f32", latency=2.0)
    store_benchmark(model.id, precision="f32", hint="throughput", fps=500.0)
    repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=0.9, samples=10, precision="f32")
    return model


def unescaped_markup(body: str) -> list[str]:
    """The Markdown-active characters of body that are not backslash-escaped."""
    found, escaped = [], False
    for char in body:
        if not escaped and char in "*[]()<>:$`_":
            found.append(char)
        escaped = char == "\\" and not escaped
    return found


def test_plain_escapes_every_markdown_sign_and_keeps_the_text():
    assert unescaped_markup(plain(HOSTILE)) == []
    assert plain(HOSTILE).replace("\\", "") == HOSTILE.replace("\\", "")


def test_pick_for_me_shows_a_hostile_model_name_as_text(hostile_lab):
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "compare.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    body = at.success[0].value
    name_part = body[body.index("**") + 2: body.rindex("@")]  # the lab's own bold wraps the name
    assert unescaped_markup(name_part) == [], body
    assert "attacker" in body


def test_messages_quoting_a_hostile_name_are_escaped(hostile_lab):
    from core.intake import sources

    sources.add_synthetic_dataset(hostile_lab.id)  # its name quotes the model's
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "data.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    bodies = [a.value for a in [*at.success, *at.error]]
    assert any("attacker" in body for body in bodies), bodies
    assert all("**net**" not in body and "![pixel]" not in body for body in bodies), bodies


def test_the_chart_shows_a_hostile_name_as_text(hostile_lab):
    figure = accuracy_figure(compare.results_rows())
    (text,) = figure.data[0].text
    assert "<b>" not in text and "&lt;b&gt;" in text
