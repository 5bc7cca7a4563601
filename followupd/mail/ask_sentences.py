"""A message's new text -> does it ask its reader something, and which sentence says so.

Pure: no network, no clock, no config. asks.py hands in the author's own words (quoted history and signature
already removed) and the merged phrase lists (ask_phrases.py); this module splits the text into sentences and
reads each one. Every list is checked whatever the text's language (mixed mail is common: a German reply to an
English thread), the detected language only labels the result.

Before reading: the text is cut after its sign-off ("Best regards,\nAlex Morgan" and what follows: a signature
or a disclaimer no client marks, whose "please notify the sender" asks nothing; a "P.S." stays), and sentence
punctuation inside quotation marks is masked (a question someone else asked is no question to the reader).
Sentences end at a line break or at ``.!?`` and a space, but not after a day ("am 5. Februar", "20.12."), an
initial or a common abbreviation.

The order of the rules, and why:

1. A ``not_asking`` phrase anywhere ("no need to reply", "kein Handlungsbedarf") and nothing asks: the writer
   said so. Checked first because "no need to reply unless Tuesday is a problem" must not read as a question.
2. Per sentence, in text order; the first that asks is the evidence:

   - greetings, sign-offs and ``courtesy`` phrases ("let me know if you have any questions", "hope you're
     well?", "¿qué tal?", "who knew?") discount their sentence;
   - a question mark (not in a link, not in quotation marks, not small talk alone such as "how are you?" or
     a signature's "Questions?") asks a question, unless the next sentence answers it ("Why? Because ...");
     so does an English or German question by word order without its mark ("did you hear back", "hast du
     ..."). A question that names a time or asks whether something works is a proposal;
   - an ``asking`` phrase asks for something ("could you", "please confirm", "merci de", "¿podrías"), unless
     negated just before ("no need to let me know") or thanked for ("thanks for your feedback");
   - a deadline ("by Friday", "bis Freitag", "avant vendredi", "antes del viernes") gives a deadline in a
     sentence that gives an order, states the writer's need, or asks the reader ("you", not "thank you")
     to send, confirm, answer, pay, sign ...; unless the writer promises something ("I'll come back to you
     by Friday": intent.py's holding phrases);
   - a sentence that starts with a request verb ("Send me the deck ...", "Bestätige ...") asks for something.
3. Nothing asks: the reason says what the text is (thanks only, closes the conversation, information only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from followupd.mail.ask_phrases import AskPhraseSet
from followupd.mail.intent_phrases import DEFAULT_PHRASES, norm_phrase, phrase_pattern
from followupd.mail.patterns import lazy_pattern

__all__ = ["Finding", "detect_language", "read_text", "sentences"]

#: Only this much of the new text is read: who asks something asks it near the top.
MAX_TEXT = 8000
#: Evidence is trimmed to this many characters.
MAX_EVIDENCE = 200


@dataclass(frozen=True)
class Finding:
    """What the text does: ``expects`` with the sentence that asks, or why not."""

    expects: bool
    reason: str
    evidence: str = ""


def read_text(text: str, phrases: Mapping[str, AskPhraseSet], *, to_anyone_counts: bool = True) -> Finding:
    """Read the new text of a message (see the module docstring for the rules).

    ``to_anyone_counts=False`` (mail the user received): a question to "anyone" in a group ("Does anyone have
    a charger?") asks no one in particular, so it does not make the user owe an answer."""
    text = _mask_quotations(_cut_signature(_normalise(text[:MAX_TEXT])))
    parts = sentences(text)
    if not parts:
        return Finding(False, "no text")
    if _any_hit(text, (p.not_asking for p in phrases.values())):
        return Finding(False, "says no reply is needed")
    for i, sentence in enumerate(parts):
        found = _read_sentence(sentence, phrases)
        if found is None or (not to_anyone_counts and _ANYONE.search(sentence)):
            continue
        if found == "asks a question" and i + 1 < len(parts) and _ANSWERED.match(parts[i + 1]):
            continue  # "Why does this matter? Because ...": the writer answers it
        return Finding(True, found, _evidence(sentence))
    return Finding(False, _no_ask_reason(parts))


def _cut_signature(text: str) -> str:
    """The text up to its sign-off ("Best regards,\nAlex Morgan"): what follows is a signature or a disclaimer
    that no client marks ("-- " is rare in Outlook and phone mail). A "P.S." after it is kept."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not _SIGN_OFF_LINE.fullmatch(line.strip()):
            continue
        rest = [rest_line.strip() for rest_line in lines[i + 1 :] if rest_line.strip()]
        if rest and not _NAME_LINE.fullmatch(rest[0]) and not _SIGN_OFF_LINE.fullmatch(rest[0]):
            continue  # "Thanks!" followed by more text: an opening thanks, not the end
        kept = lines[: i + 1]
        kept += [rest_line for rest_line in lines[i + 1 :] if _POSTSCRIPT.match(rest_line.strip())]
        return "\n".join(kept)
    return text


def _mask_quotations(text: str) -> str:
    """Sentence punctuation inside quotation marks masked, so a quoted question neither ends a sentence nor asks."""
    return _QUOTED.sub(lambda m: m.group().translate(_MASK), text)


def sentences(text: str) -> list[str]:
    """The sentences of a text: split at line breaks and at ``.!?`` followed by a space; greetings kept."""
    out: list[str] = []
    for line in text.split("\n"):
        pieces: list[str] = []
        for piece in _SENTENCE_END.split(line):
            if pieces and _NO_END.search(pieces[-1]) and (not _NUMBER_END.search(pieces[-1])
                                                          or _AFTER_NUMBER.match(piece)):
                pieces[-1] = f"{pieces[-1]} {piece}"  # "am 5. Februar", "z. B. morgen", "Dr. Lorenz"
            else:
                pieces.append(piece)
        out.extend(p for p in (piece.strip(" \t-*•>") for piece in pieces) if p)
    return out


def detect_language(text: str) -> str | None:
    """"en", "de", "fr" or "es" by counting each language's most common short words; None when none wins."""
    counts = dict.fromkeys(_STOPWORDS, 0)
    for word in _WORD.findall(text[:MAX_TEXT].casefold()):
        for lang, words in _STOPWORDS.items():
            if word in words:
                counts[lang] += 1
    best = max(counts, key=lambda lang: counts[lang])
    ranked = sorted(counts.values(), reverse=True)
    if ranked[0] == 0 or ranked[0] == ranked[1]:
        return None
    return best


# ------------------------------------------------------------------------------------------- one sentence

def _read_sentence(sentence: str, phrases: Mapping[str, AskPhraseSet]) -> str | None:
    """The reason this sentence asks something, or None."""
    if _FILLER.fullmatch(sentence):
        return None
    if _any_hit(sentence, (p.courtesy for p in phrases.values())):
        return None
    bare = _URL.sub(" ", _QUOTED.sub(" ", sentence))
    if (_QUESTION_MARK.search(bare) and not _SHORT_RHETORIC.fullmatch(bare.strip(" ¿?!.,"))) \
            or _INVERTED_QUESTION.match(bare):
        return "proposes a time" if _PROPOSAL.search(bare) else "asks a question"
    if _asking_hit(bare, phrases):
        if _PROPOSAL.search(bare):
            return "proposes a time"
        return "asks for something"
    if _DEADLINE.search(bare) and not _promises(bare) and (
            _IMPERATIVE.match(bare) or _NEED.search(bare)
            or (_YOU.search(_NOT_ADDRESSING.sub(" ", bare)) and _REQUEST_VERB.search(bare))):
        return "gives a deadline"
    if _IMPERATIVE_START.match(bare) and len(bare.split()) >= 3:
        return "asks for something"
    return None


def _promises(sentence: str) -> bool:
    """The writer promises something ("I'll come back to you by Friday"): intent.py's holding phrases."""
    return _any_hit(sentence, (p.holding for p in DEFAULT_PHRASES.values())) or bool(_SELF_FUTURE.search(sentence))


def _asking_hit(sentence: str, phrases: Mapping[str, AskPhraseSet]) -> bool:
    """An asking phrase not negated just before ("no need to let me know" is no request)."""
    words = _words_of(sentence)
    for phrase_set in phrases.values():
        for pattern in _index(phrase_set.asking).candidates(words):
            for match in pattern.finditer(sentence):
                before = sentence[max(0, match.start() - 40) : match.start()]
                if not _NEGATED_BEFORE.search(before[-12:]) and not _THANKED_BEFORE.search(before):
                    return True
    return False


def _any_hit(text: str, lists: Iterable[tuple[str, ...]]) -> bool:
    words = _words_of(text)
    return any(pattern.search(text) for listed in lists for pattern in _index(listed).candidates(words))


def _words_of(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(text.casefold()))


@dataclass(frozen=True)
class _PhraseIndex:
    """A phrase list's patterns by their first word: a sentence only tries the phrases whose first word it has
    (a few out of several hundred), which keeps a long list cheap."""

    by_first_word: Mapping[str, tuple[re.Pattern[str], ...]]
    always: tuple[re.Pattern[str], ...]   # phrases that start with "..." or with no word at all

    def candidates(self, words: frozenset[str]) -> Iterable[re.Pattern[str]]:
        yield from self.always
        for word in words & self.by_first_word.keys():
            yield from self.by_first_word[word]


@lru_cache(maxsize=256)
def _index(phrases: tuple[str, ...]) -> _PhraseIndex:
    by_first: dict[str, list[re.Pattern[str]]] = {}
    always: list[re.Pattern[str]] = []
    for phrase in phrases:
        pattern = phrase_pattern(phrase)
        if pattern is None:
            continue
        first = _TOKEN.findall(norm_phrase(phrase).split()[0])
        if first and not norm_phrase(phrase).startswith(("...", "\u2026")):
            by_first.setdefault(first[0], []).append(pattern)
        else:
            always.append(pattern)
    return _PhraseIndex({word: tuple(found) for word, found in by_first.items()}, tuple(always))


def _no_ask_reason(parts: list[str]) -> str:
    substance = [s for s in parts if not _FILLER.fullmatch(s) and not _THANKS.fullmatch(s)]
    if not substance:
        return "thanks only" if any(_THANKS.fullmatch(s) for s in parts) else "information only"
    if len(substance) <= 2 and all(_CLOSING.search(s) for s in substance):
        return "closes the conversation"
    return "information only"


def _evidence(sentence: str) -> str:
    text = " ".join(sentence.translate(_UNMASK).split())
    return text if len(text) <= MAX_EVIDENCE else text[: MAX_EVIDENCE - 1] + "…"


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u00a0", " ").replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------------------------- patterns

_TOKEN = lazy_pattern(r"\w+")
#: Links and addresses: "page?id=5" asks nothing.
_URL = lazy_pattern(r"(?i)\b(?:https?://|www\.)\S+|\S+@\S+\.\w+")
#: A question mark that ends a question: not one glued to the next letter, as mis-encoded text has them ("d?j?").
_QUESTION_MARK = lazy_pattern(r"\?(?![^\W_])")
_SENTENCE_END = lazy_pattern(r"(?<=[.!?…])\s+(?=\S)")
#: A period that ends no sentence: a day or an ordinal ("am 5. Februar", "bis zum 20.12."), an abbreviation.
_NO_END = lazy_pattern(r"(?:(?<![\d.])\d{1,2}\.|(?<![\w.])[^\W\d_]\.|\b\d{1,2}\.\d{1,2}\."
                       r"|(?i:\b(?:z\.\s?b|e\.g|i\.e|dr|mr|mrs|ms|nr|no|ca|bzw|vgl|st|sr|sra|srta|mme|mlle|p\.\s?ex"
                       r"|approx|inkl|ggf|evtl|tel|abs))\.)$")
#: After "5." a sentence goes on only into a lower-case word, a month or a counted noun ("5. Februar", "3. Stock");
#: "... am 12. Serait-il possible" is two sentences.
_NUMBER_END = lazy_pattern(r"(?<![\d.])\d{1,2}\.$")
_AFTER_NUMBER = lazy_pattern(
    r"[a-zà-ÿ]|(?i:januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember|jan|feb|mär"
    r"|apr|jun|jul|aug|sep|sept|okt|nov|dez|stock|etage|og|ug|klasse|quartal|jahrhundert|platz|lauf|tag|woche"
    r"|monat|jahr|kw)\b"
)
_MASK = str.maketrans({"?": "\ufe56", ".": "\u2024", "!": "\ufe57"})
_UNMASK = str.maketrans({"\ufe56": "?", "\u2024": ".", "\ufe57": "!"})
_WORD = lazy_pattern(r"[^\W\d_]+(?:'[^\W\d_]+)?")
#: Text in quotation marks is someone else's words: a question in it is not asked of the reader.
_QUOTED = lazy_pattern(
    "\"[^\"\n]{1,200}\"|\u201c[^\u201d\n]{1,200}\u201d|\u201e[^\u201c\u201d\n]{1,200}[\u201c\u201d]"
    "|\u00ab[^\u00bb\n]{1,200}\u00bb|\u201a[^\u2018\u2019\n]{1,200}[\u2018\u2019]"
)
#: One- or two-word small talk questions that ask nothing when they stand alone.
_SHORT_RHETORIC = lazy_pattern(
    r"(?i:(?:hi|hey|hello|hallo|salut|hola|bonjour)?[, ]*(?:how are you(?: doing)?|how's it going|how are things"
    r"|all good|you ok|alles gut|alles klar|wie geht's|wie geht'?s dir|na|ça va|comment ça va|qué tal|que tal"
    r"|cómo estás|como estas|cómo va|cómo va todo|qué tal todo|why not|warum nicht|pourquoi pas|por qué no"
    r"|questions|any questions|fragen|noch fragen|des questions|une question|dudas|preguntas|alguna duda)"
    r"(?:[, ]+[A-ZÀ-Ýa-zà-ÿ]+)?)"
)
#: Greetings, sign-offs and name lines; part of every mail, never a request.
_FILLER = lazy_pattern(
    r"(?i:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|liebe[rs]?|sehr geehrte[rs]?(?: herr| frau)?"
    r"|guten (?:tag|morgen|abend)|moin|servus|bonjour|bonsoir|salut|cher|chère|madame|monsieur|hola|estimad[oa]s?"
    r"|buen(?:os|as) (?:días|tardes|noches)|best|best regards|kind regards|regards|warm regards|cheers|thanks"
    r"|thank you|many thanks|all the best|sincerely|yours|br|talk soon|viele grüße|beste grüße|liebe grüße"
    r"|freundliche grüße|mit freundlichen grüßen|mfg|lg|vg|gruß|grüße|danke|vielen dank|cordialement|bien à vous"
    r"|bien à toi|bonne journée|à bientôt|amitiés|bises|merci|saludos|un saludo|atentamente|un abrazo|gracias"
    r"|muchas gracias|abrazos|besos)"
    r"(?:[, ]+(?:[A-ZÀ-Ý][\w.'-]*|(?i:all|everyone|team|there|folks|zusammen|alle|à tous|tous|todos|a todos))){0,3}"
    r"[,.!:]*"
    r"|[A-ZÀ-Ý][\w.'-]*(?: [A-ZÀ-Ý][\w.'-]*){0,2}[,.]?"
)
_THANKS = lazy_pattern(
    r"(?i:(?:(?:ok|okay|great|perfect|super|perfekt|parfait|perfecto|genial)[, !]+)?(?:many thanks|thanks|thank you"
    r"|thx|ty|cheers|danke|vielen dank|danke schön|besten dank|merci|merci beaucoup|gracias|muchas gracias|mil gracias)"
    r"(?: (?:so|very) much| a lot| again| beaucoup| mille fois)?(?:[,!]? (?:for|für|pour|por) [^?,;.!]{1,80})?"
    r"(?:[, ]+[A-ZÀ-Ý][\w.'-]*){0,2}[.!]*)"
)
#: Replies that end a conversation: "great, done", "sounds good", "erledigt", "c'est noté", "perfecto".
_CLOSING = lazy_pattern(
    r"(?i)\b(?:done|all set|sounds good|sounds great|looks good|perfect|great|noted|got it|will do|received"
    r"|works for me|see you|talk then|erledigt|passt|perfekt|super|alles klar|notiert|erhalten|bis dann|parfait"
    r"|c'est noté|bien reçu|reçu|ça marche|à tout à l'heure|perfecto|hecho|listo|recibido|genial|de acuerdo|vale"
    r"|nos vemos)\b"
)
_PROPOSAL = lazy_pattern(
    r"(?i)\b(?:(?:does|would|will|could|do|should) .{1,40}\b(?:work|suit|fit|be ok|be okay|be fine|be convenient)"
    r"|how about|what about|shall we|should we meet|are you (?:free|available)|is .{1,30} (?:free|available|ok"
    r"|okay|fine)|passt (?:dir|ihnen|euch|es)|geht (?:es|das) (?:bei|für)|hast du zeit|haben sie zeit"
    r"|wie wäre es|wäre .{1,30} (?:ok|in ordnung|möglich)|sollen wir|ça (?:vous|te) va|vous convient|te convient"
    r"|(?:es-tu|êtes-vous) disponible|on se voit|te va bien|le va bien|os va bien|te viene bien|le viene bien"
    r"|estás libre|está libre|quedamos|nos vemos el)\b"
)
#: A day or time given to the reader: "by Friday", "bis Freitag", "avant vendredi", "antes del viernes".
_DEADLINE = lazy_pattern(
    r"(?i)\b(?:by|before|until|no later than|latest by|deadline|due) (?:the )?(?:end of (?:the )?(?:day|week|month)"
    r"|eod|cob|tomorrow|tonight|today|noon|monday|tuesday|wednesday|thursday|friday|saturday|sunday|\d{1,2}(?:st|nd"
    r"|rd|th)?\b|next week|this week|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*)"
    r"|\b(?:bis|spätestens)(?: spätestens)? (?:zum |am |ende |morgen|heute|montag|dienstag|mittwoch|donnerstag|freitag"
    r"|samstag|sonntag|nächste|kommende|\d{1,2}\.)"
    r"|\b(?:avant|d'ici|au plus tard)(?: le| la| au| à)? (?:demain|ce soir|lundi|mardi|mercredi|jeudi|vendredi"
    r"|samedi|dimanche|la fin|fin|midi|\d{1,2}\b)"
    r"|\b(?:antes del?|para el|a más tardar|como tarde|hasta el)(?: próximo)? (?:mañana|hoy|lunes|martes|miércoles"
    r"|jueves|viernes|sábado|domingo|final|fin|mediodía|\d{1,2}\b)"
)
#: A question without its question mark, by word order: "did you hear back", "hast du den Schlüssel", "est-ce
#: que". At the start of a sentence or after a greeting ("hey sam, did you ..."); English and German only, where
#: the inverted order is never a statement (French "tu as" and Spanish "has" are both). German modal requests
#: ("Können Sie ...", "Kannst du ...") are read here, not as phrases: after an adverb the same order is a
#: statement ("Hier können Sie sich anmelden").
_INVERTED_QUESTION = lazy_pattern(
    r"(?:(?i:hi|hey|hello|hallo|hey|moin|coucou|salut|bonjour)[ ,]+(?:[\w.'-]+[ ,]+)?)?"
    r"(?i:(?:did|do|does|have|has|are|were|can|could|would|will)\s+(?:you|u|we|they)\s+\w+"
    r"|(?:hast|hattest|bist|warst|kannst|könntest|würdest|wirst|willst|weißt|magst|möchtest|wärst)\s+du\s+\w+"
    r"|(?:haben|hatten|sind|waren|können|könnten|würden|werden|wollen|wissen|möchten|wären)\s+sie\s+\w+"
    r"|est-ce\s+que\s+\w+)"
)
#: A sign-off line: the formula, then perhaps a name ("Best regards, Alex", "Mit freundlichen Grüßen").
_SIGN_OFF_LINE = lazy_pattern(
    r"(?i:best|best regards|kind regards|regards|warm regards|many thanks|thanks|thank you|cheers|all the best"
    r"|sincerely|yours sincerely|yours|talk soon|viele grüße|beste grüße|liebe grüße|freundliche grüße|herzliche grüße"
    r"|mit freundlichen grüßen|mit besten grüßen|mfg|lg|vg|gruß|grüße|danke|vielen dank|danke und viele grüße"
    r"|cordialement|bien cordialement|bien à vous|bien à toi|bonne journée|à bientôt|amitiés|bises|merci"
    r"|salutations|sincères salutations|saludos|un saludo|un cordial saludo|saludos cordiales|atentamente"
    r"|un abrazo|gracias|muchas gracias|besos)"
    r"(?:[, ]+(?:[A-ZÀ-Ý][\w.'-]*))?[,.!]*"
)
#: The line after a sign-off that makes it one: a name, perhaps with a title ("Alex Morgan | Head of Operations").
_NAME_LINE = lazy_pattern(r"[A-ZÀ-Ý][\w.'-]*(?:\s+[A-ZÀ-Ý][\w.'-]*){0,3}(?:\s*[|,\u2013\u2014-]\s.*)?|[a-z]{1,10}")
_POSTSCRIPT = lazy_pattern(r"(?i)p\.?\s?s\b")
_ANYONE = lazy_pattern(r"(?i)\b(?:anyone|anybody|someone|somebody|jemand|irgendwer|irgendjemand|quelqu'un"
                       r"|quelqu'une|alguien)\b")
#: "Thank you", "as you know": a "you" that gives the reader nothing to do.
_NOT_ADDRESSING = lazy_pattern(
    r"(?i)\b(?:thank you|see you|as you (?:know|can see|may know|will see)|if you (?:want|like|wish|prefer)"
    r"|danke (?:dir|ihnen|euch)|wie (?:sie|du) (?:wissen|weißt)|merci à (?:toi|vous)|comme (?:vous le savez|tu le sais)"
    r"|gracias a (?:ti|usted)|como (?:sabes|sabe|ya sabes))\b"
)
#: What a deadline asks the reader to do: send, submit, confirm, answer, pay, decide, sign, register ...
_REQUEST_VERB = lazy_pattern(
    r"(?i)\b(?:send|submit|return|confirm|reply|respond|rsvp|provide|complete|sign|pay|decide|register|upload|share"
    r"|approve|review|fill|get back|let me know|schick|send|einreich|reich|zurück|bestätig|antwort|meld|zahl"
    r"|überweis|entscheid|unterschreib|anmeld|ausfüll|hochlad|prüf|freigeb|envoi|envoy|renvoy|retourn|confirm"
    r"|répond|sign|pay|inscri|rempli|valid|transmet|décid|envi|mand|devuelv|respond|contest|firm|pag|inscrib"
    r"|apunt|rellen|decid|revis|due|deadline|fällig|frist|date limite|échéance|plazo|fecha límite)\w*"
)
_SELF_FUTURE = lazy_pattern(r"(?i)\b(?:i'll|i will|we'll|we will|i'm going to|we're going to|ich werde|wir werden"
                            r"|je vais|nous allons|voy a|vamos a|(?:revenons|reviendrons|reviens|reviendrai) vers)\b")
_YOU = lazy_pattern(r"(?i)\b(?:you|your|u|sie|ihnen|ihr|du|dir|dich|euch|vous|tu|te|toi|votre|ton|usted|ustedes|tú"
                    r"|os|vos|tus|tu)\b")
_IMPERATIVE = lazy_pattern(
    r"(?i)(?:please |bitte |merci de |por favor,? )?(?:send|sign|review|confirm|check|return|submit|complete|fill"
    r"|forward|share|approve|call|reply|schick|schicken|senden|prüf|prüfen|unterschreib|bestätig|envoie|envoyez"
    r"|signe|signez|confirme|confirmez|renvoie|renvoyez|envía|envia|manda|firma|revisa|confirma)\b"
)
#: A sentence that starts with a request verb: "Send me the deck when it's ready", "Bestätige bitte ...".
_IMPERATIVE_START = lazy_pattern(
    r"(?:(?i:ok|okay|also|so|alors|vale|bueno)[, ]+)?"
    r"(?i:send|sign|review|confirm|approve|submit|return|forward|fill (?:in|out)|reply|respond|call me|ring me"
    r"|ping me|give me|drop me|schick|schicke"
    r"|schicken sie|sende|senden sie|bestätige|bestätigen sie|prüf|prüfe|prüfen sie|unterschreib|unterschreibe"
    r"|envoie|envoyez|confirme|confirmez|signe|signez|renvoie|renvoyez|valide|validez|envía|envíame|envia|manda"
    r"|mándame|confirma|confírmame|firma|revisa|devuélveme)\s+(?!out\b|up\b)\w"
)
#: "I need the form by Friday": a need of the writer's with a deadline is a request to the reader.
_NEED = lazy_pattern(r"(?i)\b(?:i|we) (?:need|require|must have)\b|\b(?:ich brauche|wir brauchen|ich benötige"
                     r"|wir benötigen)\b|\b(?:j'ai besoin|nous avons besoin|il me faut|il nous faut)\b"
                     r"|\b(?:necesito|necesitamos)\b")
#: A sentence that answers the question just before it.
_ANSWERED = lazy_pattern(r"(?i)(?:because|simple|well,|weil|ganz einfach|parce que|car |eh bien|porque|pues)\b")
#: "Thanks for your feedback", "based on your feedback": what the reader already gave, not asked for.
_THANKED_BEFORE = lazy_pattern(r"(?i)(?:\b(?:thanks?|thank you|danke|dank|merci|gracias)\b[\w ,!]{0,20}\b(?:for|für"
                               r"|pour|por|de)|\b(?:based on|following|as per|per|according to|after|nach|gemäß"
                               r"|laut|suite à|selon|d'après|según|tras|gracias a))\s*$")
_NEGATED_BEFORE = lazy_pattern(r"(?i)(?:\bno\b|\bnot\b|n't|\bnicht\b|\bkein\w*|\bpas\b|\bne\b|\bno\b|\bnunca\b)\W*$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and you to is for that this it we i have with can please thanks are of hi be will would"
                    " could your our my just let know"),
    "de": _words("und der die das ich sie nicht ist mit für wir bitte danke du ein eine zu auf dass haben hallo"
                    " auch noch ihnen dir wie wäre kannst können grüße"),
    "fr": _words("le les et vous je des pour est une pas merci nous avec tu ce être bonjour mais sur votre"
                    " ton au du ai cordialement"),
    "es": _words("el los las y por para es una te gracias con lo nos hola pero muy está estoy qué del al tu"
                    " saludos mañana podrías"),
}
