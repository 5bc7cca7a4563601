"""French and Spanish beside English and German: complete sets, the language guess that picks them, and the
tone rules of their own language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followupd.compose.checks import check_variants
from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.language import detect_language
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.render import RenderContext, render
from followupd.compose.tone import ToneSettings, tone_problems
from followupd.compose.variant import COMMITMENT_STAGES, STAGES
from followupd.mail.headers import Address

FRENCH_SUBJECTS = [
    "Devis pour la rénovation de la cuisine", "Réunion de lundi", "Question sur la facture n° 2291",
    "Proposition de partenariat", "TR: Demande de rendez-vous", "Suite à notre échange", "Votre commande",
    "Contrat de maintenance 2026", "RE: Offre de stage", "Merci pour votre retour", "Dossier de subvention",
]
SPANISH_SUBJECTS = [
    "Presupuesto para la reforma del baño", "Reunión del lunes", "Pregunta sobre la factura 2291",
    "Propuesta de colaboración", "RV: Solicitud de cita", "Seguimiento de nuestra conversación", "Su pedido",
    "Contrato de mantenimiento 2026", "RE: Oferta de prácticas", "Gracias por su respuesta",
]


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_the_shipped_library_has_full_french_and_spanish_sets(lang: str) -> None:
    library = TemplateLibrary.load(builtin_templates_dir())
    assert library.languages() == ("en", "de", "es", "fr")
    own = library.for_language(lang)
    assert own.lang == lang and own.stages() == STAGES
    assert all(len(own.variants(stage)) >= 4 for stage in STAGES)
    assert len(own.variants(COMMITMENT_STAGES[0])) >= 2 and len(own.variants(COMMITMENT_STAGES[1])) >= 3
    assert all(v.lang == lang for stage in (*STAGES, *COMMITMENT_STAGES) for v in own.variants(stage))
    assert check_variants([v for v in library.every_variant() if v.lang == lang], ToneSettings()) == []


@pytest.mark.parametrize(("subjects", "lang"), [(FRENCH_SUBJECTS, "fr"), (SPANISH_SUBJECTS, "es")])
def test_the_language_guess_picks_the_set_of_a_french_or_spanish_thread(subjects: list[str], lang: str) -> None:
    assert {subject: detect_language(subject) for subject in subjects} == dict.fromkeys(subjects, lang)
    library = TemplateLibrary.load(builtin_templates_dir(), lang="auto")
    assert all(library.for_message(subject).lang == lang for subject in subjects)
    assert library.for_message("Project proposal").lang == "en"
    assert library.for_message("Q3 budget").lang == "en"  # no signal: the default set


def test_a_french_thread_reads_french_from_greeting_to_dates() -> None:
    library = TemplateLibrary.load(builtin_templates_dir(), lang="auto").for_message("Devis pour la cuisine")
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    ctx = RenderContext(recipients=(Address("claire@example.fr", "Claire Martin"),), cc=(),
                        original_subject="Devis pour la cuisine", sent_at=now - timedelta(days=4), now=now,
                        tz=ZoneInfo("Europe/Paris"), touch_number=1, total_touches=4,
                        promised=None, user_name="Zoé Adam", signature="Zoé", note=None)
    variant = choose_variant(library, stage_for_touch(1, 4, library.stages()), used_in_thread=(), seed="t.1")
    assert variant is not None and variant.key.startswith("fr/first/")
    body = render(variant, ctx).body
    assert body.startswith("Bonjour Claire,\n\n")
    english_words = {"the", "and", "on", "last", "March", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                     "Saturday", "Sunday", "Hi", "Hello", "Thanks"}
    assert not english_words & set(body.replace(",", " ").replace(".", " ").split()), body


@pytest.mark.parametrize(("lang", "text", "fragment"), [
    ("fr", "Je me permets de revenir vers vous concernant mon devis.", "Je me permets de revenir vers vous"),
    ("fr", "Toujours sans nouvelles de votre part.", "sans nouvelles de votre part"),
    ("fr", "Merci de me répondre dans les plus brefs délais.", "Merci de me répondre"),
    ("es", "Le recuerdo que el presupuesto vence.", "Le recuerdo que"),
    ("es", "Quedo a la espera de su respuesta.", "Quedo a la espera de su respuesta"),
    ("es", "Como le comenté, es importante.", "Como le comenté"),
    ("es", "¿¿Recibió el documento??", "¿¿"),
    ("es", "¡¡Gracias!!", "¡¡"),
])
def test_french_and_spanish_tone_rules_fire_for_their_language(lang: str, text: str, fragment: str) -> None:
    hits = tone_problems(text, ToneSettings().rules(lang))
    assert any(fragment in hit.message for hit in hits), [hit.message for hit in hits]
    if lang != "es" or ("¡" not in fragment and "¿" not in fragment):
        assert tone_problems(text, ToneSettings().rules("en")) == []  # another language's rules stay quiet
