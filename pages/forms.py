"""Forms generated from the typed options dataclasses (one widget per field), single or sweep.

A value that does not parse (a typo) is marked at its field with the reason; the form keeps every
other field, and the page disables its Run button while any field is INVALID (see invalid()).
"""

from typing import Any

import streamlit as st

from core.errors import AppError
from core.options import OptionField, option_fields

INVALID = object()  # the value of a field whose text does not parse


def invalid(*values: dict[str, Any]) -> bool:
    """Whether any form value is INVALID (its field shows why)."""
    return any(v is INVALID for group in values for v in group.values())


def _parsed(parse, text: str) -> Any:
    try:
        return parse(text)
    except AppError as error:
        st.error(str(error), icon=":material/error:")
        return INVALID


def _text(field: OptionField, value: Any) -> str:
    """A value as its text field shows it."""
    return "" if value in (None, ()) else ",".join(value) if field.kind == "strings" else str(value)


def _widget(field: OptionField, key: str, choices: dict[str, list[str]]) -> Any:
    label, text_help = field.name.replace("_", " "), field.help or None
    if field.kind == "strings" and choices.get(field.name):
        return tuple(st.multiselect(label, choices[field.name], key=key, help=text_help))
    if field.kind == "enum":
        choices = ([None] if field.optional else []) + list(field.choices)
        default = field.default.value if field.default is not None else None
        return st.selectbox(label, choices, index=choices.index(default), key=key, help=text_help,
                            format_func=lambda c: "default" if c is None else c)
    if field.kind == "bool":
        return st.checkbox(label, value=bool(field.default), key=key, help=text_help)
    if field.kind in ("int", "float") and not field.optional:
        if field.kind == "int":
            return st.number_input(label, value=int(field.default), key=key, help=text_help, step=1)
        tiny = 0 < abs(field.default) < 0.01  # a learning rate: 1e-4 must not read 0.000
        return st.number_input(label, value=float(field.default), key=key, help=text_help,
                               step=abs(field.default) if tiny else 0.01, format="%.1e" if tiny else "%.3f")
    text = st.text_input(label, value=_text(field, field.default), key=key, help=" ".join([field.help] + (["Leave empty for the default."] if field.optional
                                                                else [])).strip() or None)
    return _parsed(field.parse, text)


def options_form(cls: type, *, skip: tuple[str, ...] = (), key: str = "opt",
                 choices: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Widgets for every field of cls (minus skip); returns the chosen values.

    choices turns a list field into a multiselect (e.g. ignored names picked from the graph).
    """
    fields = [f for f in option_fields(cls) if f.name not in skip]
    return _in_columns(fields, st.columns(3),
                       lambda f: _widget(f, f"{key}-{cls.__name__}-{f.name}", choices or {}))


def form_state(options, *, key: str = "opt") -> dict[str, Any]:
    """The session-state values that make options_form(type(options)) show these options (a proposal
    the user then runs or edits)."""
    state = {}
    for field in option_fields(type(options)):
        value = getattr(options, field.name)
        number = field.kind in ("int", "float") and not field.optional
        state[f"{key}-{type(options).__name__}-{field.name}"] = (
            getattr(value, "value", value) if field.kind == "enum" else value if field.kind == "bool" or number
            else _text(field, value))
    return state


def sweep_form(cls: type, *, skip: tuple[str, ...] = (), key: str = "sweep") -> tuple[dict, dict]:
    """Text inputs taking comma-separated values; returns (shared base, grid of swept options)."""
    fields = [f for f in option_fields(cls) if f.name not in skip and f.kind != "strings"]

    def one(field: OptionField) -> list[Any]:
        default = "" if field.default is None else getattr(field.default, "value", field.default)
        text = st.text_input(field.name.replace("_", " "), value=str(default), key=f"{key}-{cls.__name__}-{field.name}",
                             help=(f"{field.help} One value, or several separated by commas"
                                   + (f" ({', '.join(field.choices)})" if field.choices else "") + ".").strip())
        return _parsed(field.parse_many, text)

    values = _in_columns(fields, st.columns(3), one)
    broken = {n: INVALID for n, v in values.items() if v is INVALID}
    values = {n: v for n, v in values.items() if v is not INVALID}
    return ({**{n: v[0] for n, v in values.items() if len(v) == 1}, **broken},
            {n: v for n, v in values.items() if len(v) > 1})


def _in_columns(fields: list[OptionField], columns, render) -> dict[str, Any]:
    values = {}
    for i, field in enumerate(fields):
        with columns[i % len(columns)]:
            values[field.name] = render(field)
    return values
