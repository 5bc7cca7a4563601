"""The phrases that make a sentence ask something, or say no answer is needed, per language; config changes them.

Pure data and one merge function; asks.py reads a message's new text against the merged result, with the
phrase syntax of intent_phrases.py (:func:`~followupd.mail.intent_phrases.phrase_pattern`: ``...`` for up to four
words, a trailing ``$`` for "ends the sentence").

Three lists per language:

* ``asking``: a sentence holding one asks something of the reader ("could you", "please confirm", "können Sie",
  "¿podrías"). Questions need no phrase: a question mark is enough (asks.py).
* ``not_asking``: the message says no answer is needed ("no need to reply", "kein Handlungsbedarf"). One such
  phrase makes the whole message expect nothing, whatever else it asks: the writer said so.
* ``courtesy`` (built in; config can ``remove`` from it): a polite offer or small talk that asks nothing
  ("let me know if you have any questions", "hope you're well?", "¿qué tal?"). Only its own sentence is
  discounted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from followupd.mail.intent_phrases import norm_phrase

__all__ = ["DEFAULT_ASK_PHRASES", "AskPhraseSet", "merge_ask_phrases"]


@dataclass(frozen=True)
class AskPhraseSet:
    """One language's lists (see the module docstring)."""

    asking: tuple[str, ...] = ()
    not_asking: tuple[str, ...] = ()
    courtesy: tuple[str, ...] = ()


DEFAULT_ASK_PHRASES: Mapping[str, AskPhraseSet] = {
    "en": AskPhraseSet(
        asking=(
            "could you", "could u", "can you", "can u", "would you", "will you", "would it be possible",
            "is it possible", "do you mind", "would you mind", "let me know", "lmk", "let us know", "please confirm",
            "please send", "please review", "please sign", "please approve", "please advise", "please reply",
            "please respond", "please check", "please share", "please provide", "please forward", "please fill",
            "please complete", "please update", "please return", "please call", "please get back", "please have a look",
            "please take a look", "please look", "please submit", "please tell", "please schedule", "please book",
            "please add", "please pay", "please prepare", "please let", "please give", "please arrange",
            "please make sure", "please sort", "please double-check", "please ping", "please shout", "i need you to",
            "we need you to", "i'd need you to", "need your", "waiting for your", "waiting on your",
            "looking forward to your", "look forward to your", "looking forward to hearing", "look forward to hearing",
            "your thoughts", "your feedback", "your input", "your approval", "your sign-off", "your go-ahead",
            "your confirmation", "would love your", "would appreciate your", "i'd appreciate it if",
            "appreciate it if you", "get back to me", "let me know by", "does ... work for you", "does ... suit you",
            "your decision", "a decision from you", "need a decision", "need your decision", "i was wondering if",
            "i was wondering whether", "wondering if you", "i'd like to know", "would like to know", "any news on",
            "wanted to ask", "want to ask", "meant to ask", "need ... from you", "one thing i need", "if you could",
            "would be great if you", "would be good if you", "grateful if you", "appreciate if you", "just checking in",
            "circling back on", "just circling back", "bumping this", "for your signature", "for your review",
            "for your approval", "for your sign-off", "for your confirmation", "please revert", "awaiting your",
            "await your", "please let us know", "do let me know", "at your earliest convenience", "keen to hear",
            "keen to get your", "would welcome your", "i need to know", "we need to know", "can i ask you to",
            "may i ask", "could i ask", "would it be ok", "are you able to", "what do you think",
            "what are your thoughts", "sign and return", "don't forget to", "do not forget to", "remember to send",
            "please remember to", "kindly confirm", "kindly send", "kindly revert", "kindly advise", "kindly review",
            "kindly share", "kindly let", "kindly provide", "kindly update", "kindly check", "kindly sign",
            "kindly approve", "any update on", "any updates on", "any thoughts on", "pls confirm", "pls send",
            "pls let", "pls check", "pls review", "pls advise",
            "let's find another time", "let's find a time", "let's find a new time", "let's reschedule",
            "let us reschedule",
            "i'd like to request", "we would like to request", "we'd like to request", "writing to request",
            "would like to ask for", "request a quote",
        ),
        not_asking=(
            "no need to reply", "no need to respond", "no need to answer", "no reply needed", "no response needed",
            "no reply necessary", "no response necessary", "no response required", "no reply required",
            "no action needed", "no action required", "no action necessary", "nothing needed from you",
            "nothing for you to do", "don't need to reply", "don't need to respond", "do not need to reply",
            "do not reply to this", "please do not reply", "don't bother replying", "no need to get back",
            "fyi only", "for your information only", "no need to do anything",
        ),
        courtesy=(
            "let me know if you have any questions", "let me know if you have questions",
            "let me know if you need anything", "let me know if ... questions", "let me know if anything",
            "let me know if you need", "let me know if there's anything", "let me know if i can help",
            "let me know if i can", "let us know if you have any", "let us know if you need",
            "let us know if ... questions", "if you have any questions", "if you have questions", "should you have any",
            "feel free to", "don't hesitate", "do not hesitate", "happy to help", "hope you're well",
            "hope you are well", "hope you're doing well", "hope you are doing well", "hope all is well",
            "hope this helps", "hope that helps", "how are you", "how are things", "how's it going",
            "how was your weekend", "how was your holiday", "hope you had a good", "hope you had a great",
            "hope you had a nice", "any questions, just", "just let me know if", "reach out if", "can you believe",
            "who knew", "what a week", "isn't it", "right?$", "you know what i mean", "why not$", "what do you know",
            "can you imagine", "who would have thought", "how have you been", "how was your trip", "how was the trip",
            "how were the holidays", "who'd have thought", "who would've thought", "guess what", "what a day",
            "how cool is that", "any questions, just", "questions? just", "did you have a good weekend",
            "did you have a nice weekend", "did you have a great weekend", "let me know if you'd like",
            "if you'd like to",
            "how was the conference", "how was your flight", "how was the flight", "how was your christmas",
            "how were your holidays", "how was your break", "how was your vacation", "how was the event",
            "let me know if i missed", "let me know if i've missed", "let me know if i forgot",
            "let me know if i got anything wrong",
        ),
    ),
    "de": AskPhraseSet(
        asking=(
            "bitte bestätigen", "bitte bestätige", "bitte um bestätigung", "bitte um rückmeldung",
            "bitte um kurze rückmeldung", "bitte um feedback", "bitte um antwort", "bitte um freigabe",
            "bitte schicken", "bitte schick", "bitte senden", "bitte sende", "bitte prüfen", "bitte prüfe",
            "bitte unterschreiben", "bitte unterschreibe", "bitte melden", "bitte melde", "bitte gib",
            "bitte geben sie", "bitte sag", "bitte sagen sie", "bitte ruf", "bitte rufen sie", "bitte schau",
            "bitte schauen sie", "bitte kurz", "bitte lass", "bitte lassen sie", "bitte füllen", "bitte ausfüllen",
            "bitte zurück", "bitte überweisen", "bitte freigeben", "bitte teilen sie", "bitte teile",
            "gib mir bescheid", "gib mir kurz bescheid", "geben sie mir bescheid", "gebt mir bescheid",
            "sag mir bescheid", "sagen sie mir bescheid", "sagt bescheid", "sag bescheid", "lass mich wissen",
            "lassen sie mich wissen", "lasst mich wissen", "ich bräuchte", "wir bräuchten", "ich benötige",
            "wir benötigen", "ich brauche von", "wir brauchen von", "freue mich auf ihre rückmeldung",
            "freue mich auf deine", "freue mich auf ihre antwort", "freuen uns auf ihre", "ihre rückmeldung",
            "deine rückmeldung", "eure rückmeldung", "ihr feedback", "dein feedback", "ihre freigabe", "deine freigabe",
            "um rückmeldung", "um kurze rückmeldung", "wäre es möglich", "ist es möglich", "wäre schön, wenn",
            "wäre toll, wenn", "wäre super, wenn", "wäre nett, wenn", "wäre dankbar", "wären dankbar", "passt ... dir",
            "passt ... ihnen", "geht ... bei dir", "geht ... bei ihnen", "bitte bestätigt", "bitte schickt",
            "bitte meldet", "bitte gebt", "bitte tragt", "bitte sendet", "bitte prüft", "bitte denkt",
            "ihre entscheidung", "deine entscheidung", "eure entscheidung", "bitte reichen sie", "bitte reiche",
            "bitten wir sie", "bitten sie", "ich bitte sie", "ich bitte dich", "gibt es schon neuigkeiten",
            "gibt es neuigkeiten", "wollte fragen", "wollte mal fragen", "wollte kurz fragen", "möchte fragen",
            "möchte nachfragen", "wollte nachfragen", "bräuchte ... von ihnen", "bräuchte ... von dir",
            "bräuchte ... von euch", "rufen sie mich", "ruf mich", "schick mir", "schicken sie mir", "sag mir",
            "sagen sie mir", "gib mir", "geben sie mir", "meld dich", "zur unterschrift", "zur freigabe", "zur prüfung",
            "zur durchsicht", "wollte nachhaken", "kurz nachhaken", "möchte nachhaken", "wenn du ... könntest",
            "wenn sie ... könnten", "wäre gut, wenn", "danke im voraus", "vielen dank im voraus", "ihre antwort",
            "deine antwort", "warte auf ihre", "warte auf deine", "warte auf eure", "warten auf ihre",
            "warten auf deine", "mit der bitte um", "teilen sie mir", "teilt mir", "vergiss nicht",
            "vergessen sie nicht", "denk bitte", "denken sie bitte", "um rückruf", "was meinst du", "was meinen sie",
            "was hältst du", "was halten sie", "bitten um rückmeldung", "bitten um antwort", "bitten um bestätigung",
            "bitten um zusendung", "bitte um zusendung", "bitte um info", "bitte um kurze info", "bitte um prüfung",
            "bitte um unterschrift", "teile mir bitte", "teil mir bitte", "melde dich bitte", "melde dich bei mir",
            "meld dich", "melden sie sich bitte", "melden sie sich bei mir",
            "lass uns einen neuen termin", "lassen sie uns einen neuen termin", "neuen termin finden",
            "bitte um ein angebot", "über ein angebot freuen", "möchte ... anfragen", "frage ... an, ob",
        ),
        not_asking=(
            "kein handlungsbedarf", "keine antwort nötig", "keine antwort notwendig", "keine antwort erforderlich",
            "keine rückmeldung nötig", "keine rückmeldung notwendig", "keine rückmeldung erforderlich",
            "du musst nicht antworten", "sie müssen nicht antworten", "musst nicht antworten", "müssen nicht antworten",
            "brauchst nicht zu antworten", "brauchen nicht zu antworten", "nur zur kenntnis",
            "nur zu ihrer information", "nur zu deiner information", "bitte nicht antworten",
            "bitte antworten sie nicht", "nichts zu tun",
        ),
        courtesy=(
            "bei fragen", "falls sie fragen haben", "falls du fragen hast", "wenn sie fragen haben",
            "wenn du fragen hast", "für fragen stehe", "stehe ich gerne zur verfügung", "stehe gerne zur verfügung",
            "stehen ihnen gerne", "stehen wir gerne", "melde dich gerne", "melden sie sich gerne", "melde dich einfach",
            "melden sie sich einfach", "zögern sie nicht", "zögere nicht", "wie geht's", "wie geht es dir",
            "wie geht es ihnen", "wie geht's dir", "wie war dein wochenende", "wie war ihr wochenende",
            "ich hoffe, es geht", "hoffe, es geht", "hoffe es geht", "hoffe, alles gut", "gerne melden",
            "gerne bei mir melden", "wenn etwas ist", "falls etwas ist", "falls noch etwas", "wer hätte das gedacht",
            "wer hätte gedacht", "was soll man sagen", "rate mal", "wie war dein urlaub", "wie war ihr urlaub",
            "wie waren die feiertage",
            "wie war die reise", "wie war der urlaub", "wie war das wochenende", "wie war die konferenz",
            "wie war der flug",
            "falls ich etwas vergessen", "wenn ich etwas vergessen", "falls ich etwas übersehen",
        ),
    ),
    "fr": AskPhraseSet(
        asking=(
            "pourriez-vous", "pourrais-tu", "pouvez-vous", "peux-tu", "pourriez vous", "pourrais tu", "pouvez vous",
            "peux tu", "voudriez-vous", "voulez-vous", "veux-tu", "auriez-vous", "aurais-tu", "serait-il possible",
            "est-il possible", "est-ce possible", "merci d'avance de", "merci de bien vouloir", "je vous remercie de",
            "je te remercie de", "tiens-moi au courant", "tenez-moi au courant", "dis-moi", "dites-moi",
            "fais-moi signe", "faites-moi signe", "faites-moi savoir", "fais-moi savoir", "faites-moi un retour",
            "fais-moi un retour", "votre retour", "ton retour", "vos retours", "tes retours", "votre avis", "ton avis",
            "votre validation", "ta validation", "votre accord", "ton accord", "votre réponse", "ta réponse",
            "j'aurais besoin", "nous aurions besoin", "j'ai besoin que", "il me faudrait", "il nous faudrait",
            "dans l'attente de", "j'attends ton", "j'attends votre", "est-ce que ... vous convient",
            "est-ce que ... te convient", "ça vous va", "ça te va", "cela vous convient", "vous convient-il",
            "te convient-il", "vous conviendrait", "te conviendrait", "vous irait", "t'irait", "votre décision",
            "ta décision", "nous avons besoin de votre", "j'ai besoin de ton", "j'ai besoin de votre",
            "je souhaiterais savoir", "j'aimerais savoir", "je voudrais savoir", "je vous prie de",
            "nous vous prions de", "je voulais savoir", "je voulais te demander", "je voulais vous demander",
            "des nouvelles de", "rappelez-moi", "appelez-moi", "rappelle-moi", "appelle-moi", "j'aurais besoin de",
            "envoie-moi", "envoyez-moi", "confirme-moi", "confirmez-moi", "préviens-moi", "prévenez-moi",
            "pour signature", "pour validation", "pour relecture", "je me permets de vous relancer",
            "je me permets de te relancer", "je vous relance", "je te relance", "si tu pouvais", "si vous pouviez",
            "merci d'avance", "je vous serais reconnaissant", "je te serais reconnaissant", "je vous saurais gré",
            "n'oublie pas de", "n'oubliez pas de", "tiens-moi informé", "tenez-moi informé", "qu'en penses-tu",
            "qu'en pensez-vous", "veuillez confirmer", "veuillez me", "veuillez nous", "veuillez envoyer",
            "veuillez retourner", "veuillez signer", "veuillez valider", "veuillez répondre", "veuillez compléter",
            "veuillez remplir", "veuillez indiquer", "veuillez vérifier", "veuillez transmettre", "merci de me",
            "merci de m'", "merci de nous", "merci de vous", "merci de confirmer", "merci de renvoyer",
            "merci de retourner", "merci de compléter", "merci de remplir", "merci de valider", "merci de signer",
            "merci de transmettre", "merci de répondre", "merci de prévoir", "merci de vérifier", "merci de faire",
            "merci d'envoyer", "merci d'indiquer", "merci de prendre",
            "trouvons un autre créneau", "trouver un autre créneau", "trouvons une autre date",
            "vous solliciter", "te solliciter", "je souhaiterais obtenir", "je souhaiterais recevoir",
            "souhaiterions obtenir", "demande de devis",
        ),
        not_asking=(
            "pas besoin de répondre", "pas besoin de me répondre", "inutile de répondre", "inutile de me répondre",
            "nul besoin de répondre", "aucune réponse nécessaire", "aucune action requise", "aucune action de votre",
            "rien à faire de ton côté", "rien à faire de votre côté", "pour info seulement",
            "pour information seulement", "simple information", "merci de ne pas répondre", "ne pas répondre à ce",
        ),
        courtesy=(
            "n'hésitez pas", "n'hésite pas", "si vous avez des questions", "si tu as des questions",
            "pour toute question", "en cas de question", "je reste à votre disposition", "je reste à ta disposition",
            "je reste disponible", "reste à votre disposition", "ça va$", "comment ça va", "comment vas-tu",
            "comment allez-vous", "j'espère que tu vas bien", "j'espère que vous allez bien",
            "j'espère que tout va bien", "tu vas bien", "vous allez bien", "bon week-end", "as-tu passé un bon",
            "avez-vous passé un bon", "qui l'aurait cru", "qui aurait cru", "devine quoi", "que dire",
            "comment se sont passées", "c'était bien les vacances",
            "comment s'est passé ton voyage", "comment s'est passé votre voyage", "comment s'est passé ton week-end",
            "comment s'est passé votre week-end", "comment s'est passée la conférence", "c'était bien les vacances",
            "si j'ai oublié", "si j'ai oublié quelque chose",
        ),
    ),
    "es": AskPhraseSet(
        asking=(
            "podrías", "podrias", "te importaría", "le importaría", "sería posible", "seria posible", "me confirmas",
            "me confirma", "nos confirmas", "nos confirma", "confírmame", "confirmame", "confírmanos",
            "por favor confirma", "por favor, confirma", "por favor envía", "por favor, envía", "por favor revisa",
            "por favor, revisa", "por favor firma", "por favor, firma", "por favor, ", "avísame", "avisame", "avísanos",
            "dime", "dígame", "díganme", "mándame", "mandame", "envíame", "enviame", "envíanos", "me envías",
            "me mandas", "me pasas", "me dices", "me avisas", "me comentas", "me cuentas", "me llamas", "me puedes",
            "me podrías", "nos podrías", "quedo a la espera", "quedamos a la espera", "espero tu respuesta",
            "espero su respuesta", "espero tus comentarios", "espero sus comentarios", "tu opinión", "tu respuesta",
            "tu confirmación", "tu aprobación", "necesito que", "necesitamos que", "te va bien", "le va bien",
            "os va bien", "te viene bien", "le viene bien", "te parece bien", "le parece bien", "te cuadra",
            "te encaja", "tu decisión", "vuestra decisión", "le rogamos", "les rogamos", "te ruego", "le ruego",
            "rogamos", "me gustaría saber", "quisiera saber", "necesitamos su", "necesitamos tu", "necesito su",
            "necesito tu", "quería preguntarte", "quería preguntarle", "quería saber", "queria saber", "alguna novedad",
            "llámeme", "llámame", "llamame", "necesito que me", "confírmame", "para su firma", "para tu firma",
            "para su revisión", "para tu revisión", "para su aprobación", "hacer seguimiento",
            "te escribo para recordarte", "si pudieras", "si pudiera", "gracias de antemano", "gracias por adelantado",
            "te agradecería", "le agradecería", "les agradecería", "agradecería que", "no olvides", "no olvide",
            "acuérdate de", "hazme el favor", "me harías el favor", "qué opinas", "qué te parece", "pásame", "mandadme",
            "enviadme", "avisadme", "decidme", "confirmadme", "hágame saber", "hazme saber", "házmelo saber",
            "quedo pendiente de", "espero noticias", "necesitaría que", "necesitaríamos que",
            "busquemos otro momento", "buscamos otro día", "busquemos otra fecha",
            "quisiera solicitar", "me gustaría solicitar", "escribo para solicitar", "les escribo para pedir",
            "le escribo para pedir", "solicitar un presupuesto",
        ),
        not_asking=(
            "no hace falta responder", "no hace falta que respondas", "no hace falta que contestes",
            "no hace falta contestar", "no es necesario responder", "no es necesario contestar",
            "no necesitas responder", "no necesitas contestar", "no requiere respuesta", "sin necesidad de respuesta",
            "solo para tu información", "solo para su información", "solo informativo",
            "por favor no responda", "no responda a este", "no tienes que hacer nada",
        ),
        courtesy=(
            "qué tal$", "que tal$", "cómo estás", "como estas", "cómo está", "cómo va todo", "cómo te va",
            "espero que estés bien", "espero que esté bien", "espero que estés muy bien", "espero que todo vaya bien",
            "espero que todo bien", "cualquier duda", "cualquier cosa", "cualquier pregunta", "si tienes alguna duda",
            "si tiene alguna duda", "si tienes dudas", "si tiene dudas", "si tienes preguntas", "no dudes en",
            "no dude en", "quedo a tu disposición", "quedo a su disposición", "quedo atento", "quedo atenta",
            "qué tal el fin de semana", "qué tal tu fin de semana", "buen fin de semana", "quién lo iba a decir",
            "quién lo diría", "quién me lo iba a decir", "adivina qué", "qué tal las vacaciones", "qué tal las fiestas",
            "qué tal todo",
            "qué tal el viaje", "qué tal el vuelo", "qué tal la conferencia", "qué tal el congreso",
            "cómo fue el viaje",
            "si me he olvidado", "si se me ha pasado", "si me dejo algo",
        ),
    ),
}


@dataclass(frozen=True)
class AskChange:
    """One language's config change (asks.py's ``AskPhrases`` has the same fields)."""

    asking: tuple[str, ...] = ()
    not_asking: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    replace: bool = False


def merge_ask_phrases(changes: Mapping[str, AskChange] | None) -> dict[str, AskPhraseSet]:
    """The built-in lists with config applied: per language, ``remove`` first (from all three lists), then the
    additions, or with ``replace`` the additions as that language's whole ``asking``/``not_asking`` lists."""
    merged = dict(DEFAULT_ASK_PHRASES)
    for lang, change in (changes or {}).items():
        base = merged.get(lang, AskPhraseSet())
        drop = {norm_phrase(p) for p in change.remove}

        def keep(items: Iterable[str], drop: set[str] = drop) -> tuple[str, ...]:
            return tuple(dict.fromkeys(p for p in items if norm_phrase(p) not in drop))

        if change.replace:
            merged[lang] = AskPhraseSet(asking=keep(change.asking), not_asking=keep(change.not_asking),
                                        courtesy=keep(base.courtesy))
            continue
        merged[lang] = AskPhraseSet(asking=keep((*base.asking, *change.asking)),
                                    not_asking=keep((*base.not_asking, *change.not_asking)),
                                    courtesy=keep(base.courtesy))
    return merged
