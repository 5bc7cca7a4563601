"""intent.py: an answer, a promise to answer later, or a no; and when unsure, an answer.

Wednesday 6 March 2024 (Berlin) is the received day.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail import intent as intent_module
from followupd.mail.bodytext import message_text
from followupd.mail.intent import DEFAULT_PHRASES, Intent, PhraseSet, merge_phrases, reply_intent


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


# Far above any normal run even on a loaded CI machine; a quadratic regex on 1 MB takes minutes.
PATHOLOGICAL_SECONDS = 5.0

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
BODY = Path(__file__).parent / "data" / "mail" / "body"


def intent(text: str, phrases: dict[str, PhraseSet] | None = None, received: datetime = WEDNESDAY) -> Intent:
    return reply_intent(text, phrases=phrases, received=received, tz=BERLIN)


# -------------------------------------------------------------------------------------------- holding

@pytest.mark.parametrize(
    ("text", "promised"),
    [
        ("Hi Alice,\n\nI'll get back to you next week.\n\nBest,\nBob", date(2024, 3, 15)),
        ("Let me check and revert by Friday.", date(2024, 3, 8)),
        ("Will come back to you after the holidays.", None),
        ("Thanks for the proposal. I'm travelling this week, I'll get back to you next week.\nBob", date(2024, 3, 15)),
        ("Sorry for the delay! Busy week - will revert tomorrow.", date(2024, 3, 7)),
        ("I'll get back to you by 15 March.", date(2024, 3, 15)),
        ("I'll get back to you in two weeks.", date(2024, 3, 20)),
        ("I will review the document and revert by 20.03.", date(2024, 3, 20)),
        ("I'll get back to you, probably next week.", date(2024, 3, 15)),
        ("I'll get back to you on Monday.", date(2024, 3, 11)),
        ("Haven't had a chance to look at it yet, will get back to you by end of the week.", date(2024, 3, 8)),
        ("I\u2019ll get back to you next week.", date(2024, 3, 15)),  # typographic apostrophe
        ("Hallo Frau Example,\n\nich melde mich nächste Woche.\n\nViele Grüße\nJürgen", date(2024, 3, 15)),
        ("Ich melde mich bis Ende der Woche.", date(2024, 3, 8)),
        ("Danke! Ich bin diese Woche unterwegs und melde mich am Montag.", date(2024, 3, 11)),
        ("Bonjour Alice,\n\nJe reviens vers vous la semaine prochaine.\n\nBien à vous,\nChloé", date(2024, 3, 15)),
        ("Je reviens vers vous d'ici vendredi.", date(2024, 3, 8)),
        ("Hola Alice, te respondo la semana que viene. Saludos", date(2024, 3, 15)),
        ("Lo reviso y te digo algo mañana.", date(2024, 3, 7)),
    ],
)
def test_holding(text: str, promised: date | None) -> None:
    found = intent(text)

    assert (found.kind, found.promised) == ("holding", promised), found.evidence
    assert found.evidence.startswith("holding:")


def test_holding_sample_message() -> None:
    found = intent(message_text((BODY / "apple_mail_fr.eml").read_bytes()))

    assert (found.kind, found.promised) == ("holding", date(2024, 3, 15))  # "la semaine prochaine": by Friday


# --------------------------------------------------------------- a promise with substance is a reply

@pytest.mark.parametrize(
    "text",
    [
        "I'll get back to you next week. Could you send the pricing in the meantime?",
        "Sounds good! I'll get back to you with the PO next week.",
        "Yes. I'll get back to you with the details.",
        "Thanks, we'll go with option B and I'll let you know the quantities next week.",
        "The numbers look fine. The delivery date works too. I'll get back to you about the invoice address.",
        "I'll get back to you next week. Contract attached.",
        "We have decided to go ahead, I'll get back to you with the PO.",
        "Hi Bob, the price works for us. Let me check the delivery date and revert.",
        "I'm not saying I'm not interested, just busy. Let me get back to you.",
        "Got it, let me check.",
        "I'm busy. I'm travelling. I'm in meetings. I'm swamped. I'll get back to you.",  # too long for a holding
        "Ja, passt. Ich melde mich nächste Woche wegen der Details.",
        "D'accord. Je reviens vers vous la semaine prochaine.",
    ],
)
def test_a_promise_with_substance_is_a_reply(text: str) -> None:
    assert intent(text).kind == "reply"


# ------------------------------------------------------------------------------------------- declined

@pytest.mark.parametrize(
    "text",
    [
        "Not interested, thanks.",
        "No thanks.",
        "Please remove me from your list.",
        "Please stop emailing me.",
        "Please stop.",
        "Unsubscribe",
        "We're not interested at this time.",
        "Thanks, but we went with another vendor.",
        "Hallo, wir haben kein Interesse. Grüße",
        "Vielen Dank, aber wir haben kein Interesse.",
        "Merci, mais nous ne sommes pas intéressés.",
        "No me interesa, gracias.",
        "Non mi interessa, grazie.",
        "Geen interesse, bedankt.",
        "Não temos interesse, obrigado.",
    ],
)
def test_declined(text: str) -> None:
    found = intent(text)

    assert found.kind == "declined", found.evidence
    assert found.evidence.startswith("declined:")


@pytest.mark.parametrize(
    "text",
    [
        "I'm not saying I'm not interested.",
        "If you're not interested in the upgrade, we can stay on the old plan.",
        "Not interested in the basic plan, but the premium one sounds good.",
        "Not interested in X. What about Y?",
        "Please stop by our booth at 3pm tomorrow.",
        "No thanks needed, happy to help!",
        "Yes, we're interested.",
        "Sure, send it over.",
        "",
        "   \n ",
    ],
)
def test_not_declined(text: str) -> None:
    assert intent(text).kind == "reply"


def test_declined_wins_over_holding() -> None:
    assert intent("Not interested. I'll let you know if that changes.").kind == "declined"


# ---------------------------------------------------------------------------------------------- phrases

def test_config_adds_and_removes_phrases() -> None:
    custom = {"en": PhraseSet(holding=("circle back after the board meeting",), declined=("we went elsewhere",),
                              remove=("No Thanks",))}

    assert intent("I'll circle back after the board meeting.", custom).kind == "holding"
    assert intent("We went elsewhere.", custom).kind == "declined"
    assert intent("No thanks.", custom).kind == "reply"
    assert intent("Not interested.", custom).kind == "declined"  # the other defaults stay


def test_config_can_replace_a_language_and_add_a_new_one() -> None:
    custom = {"en": PhraseSet(holding=("hang on",), replace=True),
              "sv": PhraseSet(holding=("återkommer",), declined=("inte intresserad",))}
    merged = merge_phrases(custom)

    assert merged["en"].holding == ("hang on",) and merged["en"].declined == ()
    assert merged["de"] == DEFAULT_PHRASES["de"]
    assert intent("Hang on.", custom).kind == "holding"
    assert intent("Not interested.", custom).kind == "reply"
    assert intent("Jag återkommer nästa vecka.", custom).kind == "holding"
    assert intent("Inte intresserad.", custom).kind == "declined"


@pytest.mark.parametrize(
    ("phrase", "text", "kind"),
    [
        ("get ... back to you", "I'll get the numbers back to you soon.", "holding"),
        ("please stop$", "Please stop!", "declined"),
        ("please stop$", "Please stop by.", "reply"),
        ("don't contact me", "Don\u2019t contact me again.", "declined"),
        ("", "Anything.", "reply"),
    ],
)
def test_phrase_syntax(phrase: str, text: str, kind: str) -> None:
    custom = {lang: PhraseSet(replace=True) for lang in DEFAULT_PHRASES}
    custom["en"] = PhraseSet(holding=(phrase,) if kind == "holding" else (),
                             declined=(phrase,) if kind != "holding" else (), replace=True)

    assert intent(text, custom).kind == kind


def test_every_default_phrase_compiles_and_matches_itself() -> None:
    for lang, phrase_set in DEFAULT_PHRASES.items():
        for phrase in (*phrase_set.holding, *phrase_set.declined):
            sentence = phrase.rstrip("$").replace("...", "x") + "."
            only = {other: PhraseSet(replace=True) for other in DEFAULT_PHRASES}
            only[lang] = PhraseSet(holding=phrase_set.holding, declined=phrase_set.declined, replace=True)
            assert intent(sentence, only).kind in ("holding", "declined"), (lang, phrase)


# ------------------------------------------------------------------------------------------- speed, fuzz

def test_long_text_is_fast() -> None:
    for text in ("I'll get back to you next week, " * 30000, "x " * 500_000, "Hi, " * 200_000):
        start = time.perf_counter()
        intent(text)
        assert time.perf_counter() - start < PATHOLOGICAL_SECONDS  # no quadratic blow-up; speed: bench/


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=400))
def test_never_raises(text: str) -> None:
    found = intent(text)
    assert found.kind in ("reply", "holding", "declined")
    assert found.promised is None or found.kind == "holding"
    assert_no_internal_error()


PIECES = st.sampled_from(["I'll get back to you", "next week", "not interested", "?", ".", ",", "but", "Hi Bob",
                          "Thanks", "by Friday", "ich melde mich", "kein Interesse", "yes", "\n", "if", "15.3.",
                          "je reviens vers vous", "no", "attached", "tomorrow", "Best, Bob", " "])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(PIECES, max_size=20))
def test_questions_are_never_holding_and_promises_are_in_range(pieces: list[str]) -> None:
    text = " ".join(pieces)
    found = intent(text)
    if "?" in text:
        assert found.kind != "holding"
    if found.promised is not None:
        assert date(2024, 3, 6) <= found.promised <= date(2024, 9, 2)
    assert_no_internal_error()


# --------------------------------------------------------------------------------- a bug is seen, not hidden

def _boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise ZeroDivisionError("a bug planted by the test")


def test_a_bug_in_the_reader_gives_the_default_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intent_module, "_classify", _boom)

    found = intent("No thanks, not interested.")

    assert found == Intent("reply", "intent not readable (internal error): taken as a reply")
    assert take_internal_errors() == {"intent": 1}
