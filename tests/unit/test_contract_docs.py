"""The README's topic contract is the one the code enforces."""

from __future__ import annotations

from pathlib import Path

from core.contract import BEGIN, END, render

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_contract_section_matches_the_schemas() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert section == render(), "run `python -m core.contract --write README.md`"


def test_every_contract_field_is_documented_with_a_row() -> None:
    from core.contract import CONTRACT

    text = README.read_text(encoding="utf-8")
    for topic in CONTRACT:
        if topic.model is not None:
            for name in topic.model.model_fields:
                assert f"| `{name}` |" in text, f"{topic.model.__name__}.{name} is not documented"


def test_the_readme_names_every_reason_a_dead_letter_can_give() -> None:
    from core.dead_letters.reasons import ERROR_TYPES, PROCESSING_ERROR

    text = README.read_text(encoding="utf-8")
    start = text.index("`error.type` (one of")
    listed = text[start : text.index("`error.message`", start)]
    assert {r for r in ERROR_TYPES | {PROCESSING_ERROR} if f"`{r}`" not in listed} == set()
