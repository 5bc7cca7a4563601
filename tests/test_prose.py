"""Rendered follow-ups read as written by a person: no repeated words, no empty greeting, no stray punctuation.

The library test renders every built-in template (every language, the commitment sets too) for every sample
thread at every touch of cadences of one, four and eleven touches, and holds each note to :func:`prose_problems`.
"""

from __future__ import annotations

import pytest

from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.prose import prose_problems, sample_prose_problems


def test_the_built_in_library_reads_as_written_by_a_person() -> None:
    library = TemplateLibrary.load(builtin_templates_dir())
    # A one-touch cadence (only "final"), the default four, and the longest, eleven: every touch of each.
    found = sample_prose_problems(library.every_variant(), total_touches=11, cadences=(1, 4, 11))
    assert found == [], "\n".join(f"{key} ({label}): {problem}" for key, label, problem in found[:30])


@pytest.mark.parametrize("greeting", ["Hello,", "Hi,", "Hallo,", "Hola:", "Dear ,", "hey"])
def test_a_greeting_without_its_name_is_found(greeting: str) -> None:
    assert any("empty greeting" in p for p in prose_problems(f"{greeting}\n\nThanks for the note.\n"))


@pytest.mark.parametrize("greeting", ["Hi there,", "Hello again,", "Hi Ana,", "Guten Tag,", "Bonjour,",
                                      "Hallo zusammen,", "Buenos días:"])
def test_complete_greetings_pass(greeting: str) -> None:
    assert prose_problems(f"{greeting}\n\nThanks for the note.\n") == []


@pytest.mark.parametrize(("body", "what"), [
    ("I wrote on Monday (), and here it is.\n", "empty brackets"),
    ("About \"\" and more.\n", "empty brackets or quotes"),
    ("I wrote on 3 March., said so.\n", "punctuation doubled"),
    ("Here it is, .\n", "punctuation doubled"),
    ("Here it is..\n", "punctuation doubled"),
    ("Here it is\n, and more.\n", "starts with punctuation"),
    ("Here  it is.\n", "two spaces"),
    ("Here it is , and more.\n", "a space before punctuation"),
    ("Hallo Ana,\nich habe Ihnen geschrieben.\n", "runs into the first paragraph"),
])
def test_dangling_punctuation_is_found(body: str, what: str) -> None:
    assert any(what in problem for problem in prose_problems(body)), prose_problems(body)


def test_ellipses_and_french_spacing_are_not_dangling() -> None:
    assert prose_problems("Perhaps later...\n") == []
    assert prose_problems("Est-ce le bon moment ? Dites-le-moi : un mot suffit.\n", "fr") == []
    assert any("space before" in p for p in prose_problems("Is it the right time ? Tell me.\n", "en"))


def test_repeated_words_and_phrases_in_the_authors_text_are_found() -> None:
    body = "I planned to come back today, which is why I'm writing today.\n"
    assert prose_problems(body) == ['"today" is used 2 times; vary the wording']
    phrase = "I wanted to ask. Also, I wanted to ask again.\n"
    assert '"i wanted to" is used 2 times; vary the wording' in prose_problems(phrase)


def test_inserted_values_dates_and_function_words_are_not_repetitions() -> None:
    note = "The contract is attached again; the contract is signed."
    body = f"I sent it on 3 March and planned to return on 10 March.\n\n{note}\n\nWould that work? Would Friday?\n"
    assert prose_problems(body, inserted=[note]) == []
    assert prose_problems(body) != []  # the note's own repetition shows when it is not marked as inserted


def test_a_list_repeats_its_own_structure_without_being_clumsy() -> None:
    """A roll-up lists items line by line ("- Bob: the pricing (done)"): parallel lines are a list, not
    repetition; a word that also comes back in the prose around the list still counts."""
    listed = ("Here is where the plan stands:\n- Bob: pricing (overdue since Monday)\n"
              "- Ana: forecast (overdue since Friday)\n1. Cy: venue (overdue)\n\nThanks for all of it.\n")
    assert prose_problems(listed) == []
    again = listed.replace("Thanks for all of it.", "Sorry the overdue ones took so long.")
    assert prose_problems(again) == ['"overdue" is used 2 times; vary the wording']
    inline = "The pricing is overdue, the forecast is overdue.\n"
    assert prose_problems(inline) == ['"overdue" is used 2 times; vary the wording']
