"""The Models page's task form: what a model is judged as (classification, detection, ...), its
charset and detection thresholds."""

import streamlit as st

from core import lab
from core.errors import AppError
from core.tasks.registry import TASKS
from pages.widgets import plain


def task_form(chosen) -> None:
    """The task the model is judged as, and the form that changes it."""
    task, settings = lab.model_task(chosen)
    origin = "set for it" if chosen.task else "as its parent" if chosen.parent_id else "proposed from its outputs"
    with st.form("task"):
        st.write(f"Judged as **{task.title}** ({origin}): its accuracy and agreement metrics are this task's.")
        left, middle, right = st.columns(3)
        names = list(TASKS)
        picked = left.selectbox("Task", names, index=names.index(task.name), format_func=lambda n: TASKS[n].title)
        charset = middle.file_uploader("Charset (text recognition): one character per line, in class order",
                                       type=["txt"], help=f"{len(settings.charset)} characters known now")
        confidence = right.number_input("Detection: lowest box score", 0.0, 1.0, settings.confidence, 0.05)
        iou = right.number_input("Detection: NMS IoU", 0.0, 1.0, settings.iou, 0.05)
        if st.form_submit_button("Set task"):
            try:
                lab.set_task(chosen.id, picked, charset=charset.getvalue().decode("utf-8") if charset else None,
                             confidence=confidence, iou=iou)
                st.success(f"'{plain(chosen.name)}' is judged as {TASKS[picked].title} from now on.")
            except (AppError, UnicodeDecodeError) as error:
                st.error(plain(error))
