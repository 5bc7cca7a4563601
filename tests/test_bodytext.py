"""bodytext.py: the author's own words from a whole raw message.

Samples under tests/data/mail/body/ are whole messages shaped like what the named clients send.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail import bodytext
from followupd.mail.bodytext import decode_bytes, html_to_text, message_text, readable_text, strip_quoted


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


# Far above any normal run even on a loaded CI machine; a quadratic regex on 1 MB takes minutes.
PATHOLOGICAL_SECONDS = 5.0

BODY = Path(__file__).parent / "data" / "mail" / "body"


def sample(name: str) -> bytes:
    return (BODY / name).read_bytes()


def plain(body: str, *, charset: str = "utf-8", extra: str = "") -> bytes:
    head = f"From: bob@acme.example\r\nSubject: Re: x\r\n{extra}Content-Type: text/plain; charset={charset}\r\n\r\n"
    return head.encode("ascii") + body.replace("\n", "\r\n").encode(charset if charset != "x-none" else "utf-8")


# ----------------------------------------------------------------------------------------- real samples

@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gmail_reply.eml", "Hi Alice,\n\nThanks \u2013 the numbers look good. Can we start on 1 April?\n\nDana"),
        ("outlook_html_only.eml",
         "Hi Alice,\n\nI\u2019ll get back to you next week \u2013 our CFO is away until Friday.\n\nBob"),
        ("outlook_de_plain.eml",
         "Hallo Frau Example,\n\nvielen Dank für das Angebot. Wir haben kein Interesse.\n\n"
         "Mit freundlichen Grüßen\nJürgen Müller"),
        ("thunderbird_bottom_post.eml",
         "The price works. Splitting the delivery is fine too, as long as the first part arrives before the "
         "end of April.\n\nThanks,\nBob"),
        ("apple_mail_fr.eml", "Bonjour Alice,\n\nJe reviens vers vous la semaine prochaine.\n\nBien à vous,\nChloé"),
        ("mixed_with_attachments.eml", "Here are the signed pages.\n\nThe rest follows tomorrow."),
        ("bad_charset.eml", "Grüße aus Köln \u2013 see you soon."),
        ("mislabelled_latin1.eml", "Grüße aus Köln."),
    ],
)
def test_samples(name: str, expected: str) -> None:
    assert message_text(sample(name)) == expected


def test_readable_text_keeps_the_history_a_bounce_parser_needs() -> None:
    text = readable_text(sample("gmail_reply.eml"))

    assert "> Here is the proposal for Q3." in text
    assert "wrote:" in text


def test_html_is_used_when_the_plain_twin_is_empty() -> None:
    msg = EmailMessage()
    msg["From"] = "bob@acme.example"
    msg.set_content("   \n")
    msg.add_alternative("<p>Real <b>words</b> here</p><blockquote>old stuff</blockquote>", subtype="html")

    assert message_text(msg.as_bytes()) == "Real words here"


# ------------------------------------------------------------------------------------------ quoting rules

@pytest.mark.parametrize(
    "separator",
    [
        "On Mon, 4 Mar 2024 at 10:00, Alice Example <me@example.com> wrote:",
        "On Mon, Mar 4, 2024 at 10:00 AM Alice Example <\nme@example.com> wrote:",
        "Am 04.03.2024 um 10:00 schrieb Alice Example <me@example.com>:",
        "Am Mo., 4. März 2024 um 10:00 Uhr schrieb Alice Example <me@example.com>:",
        "Le lun. 4 mars 2024 à 10:00, Alice Example <me@example.com> a écrit :",
        "El lun, 4 mar 2024 a las 10:00, Alice Example (<me@example.com>) escribió:",
        "Il giorno lun 4 mar 2024 alle ore 10:00 Alice Example <me@example.com> ha scritto:",
        "Op ma 4 mrt 2024 om 10:00 schreef Alice Example <me@example.com>:",
        "Em seg., 4 de mar. de 2024 às 10:00, Alice Example <me@example.com> escreveu:",
        "Alice Example <me@example.com> wrote:",
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "________________________________",
        "From: Alice Example <me@example.com>\nSent: Monday, March 4, 2024 10:00 AM\nTo: Bob",
        "*From:* Alice Example <me@example.com>\n*Sent:* Monday, March 4, 2024 10:00 AM",
        "Von: Alice Example <me@example.com>\nGesendet: Montag, 4. März 2024 10:00",
        "De : Alice Example <me@example.com>\nEnvoyé : lundi 4 mars 2024 10:00",
        "De: Alice Example <me@example.com>\nEnviado el: lunes, 4 de marzo de 2024 10:00",
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
    ],
)
def test_everything_after_a_reply_separator_goes(separator: str) -> None:
    text = f"Sounds good, let's do it.\n\n{separator}\n\nOld text that must not count.\nMore old text."

    assert strip_quoted(text) == "Sounds good, let's do it."


def test_quoted_lines_go_and_inline_answers_stay() -> None:
    text = ("On Mon, Alice wrote:\n> Can you do Tuesday?\nYes, Tuesday works.\n> And the price?\n"
            "The price is fine.\n>> older\n")

    assert strip_quoted(text) == "Yes, Tuesday works.\nThe price is fine."


@pytest.mark.parametrize("marker", ["-- ", "--", "Sent from my iPhone", "Von meinem iPhone gesendet",
                                    "Envoyé de mon iPad", "Get Outlook for Android"])
def test_signature_and_mobile_footer_go(marker: str) -> None:
    assert strip_quoted(f"Yes, please.\n{marker}\nBob Builder\n+44 20 7946 0000") == "Yes, please."


@pytest.mark.parametrize(
    "text",
    [
        "From: my side, everything is fine.\nSee you Tuesday.",  # "From:" without a Sent: line
        "I wrote: a short note for the team.\nNo quoting here.",
        "On Monday we start.\nOn Tuesday we finish.",
        "Use -- as the separator in the CLI.",
        "Price: 10 EUR\nDate: tomorrow",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert strip_quoted(text) == text


def test_blank_lines_are_squeezed_and_output_truncated() -> None:
    assert strip_quoted("a\n\n\n\nb   \n\n") == "a\n\nb"
    assert len(message_text(plain("word " * 10000), max_chars=100)) == 100


def test_format_flowed_lines_are_joined() -> None:
    raw = plain("This is one \nlong line.\n\n> quoted \n> text\nEnd.\n", extra="")
    raw = raw.replace(b"charset=utf-8", b"charset=utf-8; format=flowed")

    assert message_text(raw) == "This is one long line.\n\nEnd."


# --------------------------------------------------------------------------------------------- charsets

@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("Grüße".encode(), "utf-8", "Grüße"),
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße"),
        (b"\x93quoted\x94", "iso-8859-1", "\u201cquoted\u201d"),  # cp1252 quotes labelled latin-1
        ("Grüße".encode(), "x-no-such", "Grüße"),
        ("Grüße".encode("latin-1"), "", "Grüße"),
        ("Grüße".encode(), "us-ascii", "Grüße"),
        (b"abc", "base64", "abc"),  # a bytes-to-bytes codec is no charset
        (b"\xff\xfeabc", "idna", "\u00ff\u00feabc"),  # refuses "replace": falls back to sniffing
        (b"caf\xc3", "utf-8", "caf\ufffd"),
        ("日本".encode("iso-2022-jp"), "ISO-2022-JP", "日本"),
    ],
)
def test_decode_bytes(data: bytes, charset: str, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


# ------------------------------------------------------------------------------------------------- HTML

def test_html_to_text() -> None:
    html = ("<html><head><title>t</title><style>p{}</style><script>x()</script></head><body>"
            "<p>Hello&nbsp;<b>Bob</b> &amp; co</p><div style='display: none'>preheader</div>"
            "<div class='gmail_signature'><div>Sig</div></div><ul><li>one</li><li>two</li></ul>"
            "<blockquote>quoted<br>more</blockquote>after<!-- comment --></body></html>")

    text = html_to_text(html)

    assert "> quoted\n> more" in text
    assert "preheader" not in text and "Sig" not in text and "x()" not in text and "comment" not in text
    assert strip_quoted(html_to_text(html)) == "Hello Bob & co\n\none\n\ntwo\n\nafter"


# ------------------------------------------------------------------------------------------------ speed

def big_messages() -> dict[str, bytes]:
    html = EmailMessage()
    html["From"] = "a@b.example"
    html.set_content("<div>Hello <b>there</b> &amp; more text here</div>\n" * 20000, subtype="html")
    attached = EmailMessage()
    attached["From"] = "a@b.example"
    attached.set_content("Short reply.\n")
    attached.add_attachment(b"\x00\x01" * 500_000, maintype="application", subtype="pdf", filename="x.pdf")
    head = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n"
    return {
        "plain": plain("A line of ordinary text.\n" * 40000),
        "quoted": plain("Top.\n" + "> quoted line of text\n" * 50000),
        "html": html.as_bytes(),
        "attachment": attached.as_bytes(),
        "one line": plain("x" * 1_000_000),
        "nested blockquotes": head + b"<blockquote>" * 100_000,
        "unclosed tags": head + b"</" * 300_000,
        "declarations": head + b"<!" * 300_000,
        "stray angles": head + b"<" * 1_000_000,
    }


@pytest.mark.parametrize("name", sorted(big_messages()))
def test_one_megabyte_messages_have_no_pathological_slowness(name: str) -> None:
    # A guard against quadratic or exponential regexes (seconds would become hours on 1 MB), not a speed
    # target: those live in bench/. Typical here: well under 0.1 s.
    raw = big_messages()[name]
    assert len(raw) >= 600_000
    start = time.perf_counter()
    message_text(raw)
    assert time.perf_counter() - start < PATHOLOGICAL_SECONDS


def test_deep_multipart_nesting_does_not_raise() -> None:
    raw = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for depth in range(1, 300):
        raw += f"--b{depth - 1}\r\nContent-Type: multipart/alternative; boundary=b{depth}\r\n\r\n".encode()
    raw += b"--b299\r\nContent-Type: text/plain\r\n\r\ndeep\r\n"

    assert message_text(raw) in ("", "deep")


# ---------------------------------------------------------------------------------------- never raises

SAMPLES = sorted(BODY.glob("*.eml"))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    text = message_text(raw)
    assert "\r" not in text and "\x00" not in text
    assert readable_text(raw) is not None
    assert_no_internal_error()


NASTY = st.sampled_from([b"\r\n\r\n", b"--", b"Content-Type: text/html\r\n", b"charset=x-bad", b"<", b">",
                         b"=\r\n", b"=C3", b"\xff", b"<blockquote>", b"&#", b"boundary=", b"\x00"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(SAMPLES),
       st.lists(st.tuples(st.integers(min_value=0, max_value=5000), NASTY | st.binary(max_size=10)), max_size=8))
def test_never_raises_on_mutated_samples(path: Path, edits: list[tuple[int, bytes]]) -> None:
    raw = bytearray(path.read_bytes())
    for position, insert in edits:
        at = position % (len(raw) + 1)
        raw[at:at] = insert
    assert isinstance(message_text(bytes(raw)), str)
    assert_no_internal_error()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_html_and_quote_stripping_never_raise(text: str) -> None:
    assert isinstance(strip_quoted(html_to_text(text)), str)
    assert len(strip_quoted(text, max_chars=50)) <= 50
    assert_no_internal_error()


# --------------------------------------------------------------------------------- a bug is seen, not hidden

def _boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise ZeroDivisionError("a bug planted by the test")


def test_a_bug_in_the_reader_gives_the_default_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = b"Content-Type: text/plain\r\n\r\nHello\r\n"
    monkeypatch.setattr(bodytext, "strip_quoted", _boom)
    assert message_text(raw) == ""
    assert take_internal_errors() == {"bodytext": 1}

    monkeypatch.setattr(bodytext, "_readable_parts", _boom)
    assert readable_text(raw) == ""
    assert take_internal_errors() == {"bodytext": 1}


def test_raw_8bit_bytes_in_content_disposition_keep_the_body() -> None:
    """Found by the internal-error marker: compat32 returns a Header object there, and the body was lost."""
    raw = b'Content-Type: text/plain\r\nContent-Disposition: inline; filename="\xe9.txt"\r\n\r\nHello\r\n'
    assert message_text(raw) == "Hello"


def test_utf8_text_under_a_wrong_charset_label_is_read_as_utf8() -> None:
    """Found on real Japanese bounces (bench/bodies.py): UTF-8 bytes declared ISO-2022-JP came out as U+FFFD."""
    words = "送信先のメールボックスが一杯のため、送信できませんでした。"
    raw = (b'Content-Type: text/plain; charset="ISO-2022-JP"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
           + words.encode("utf-8") + b"\r\n")
    assert message_text(raw) == words
    assert decode_bytes("Grüße".encode("cp1252"), "cp1252") == "Grüße"  # a fitting label still wins


def test_a_bug_in_the_html_parser_keeps_the_text_so_far_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    from followupd.mail import html_text

    monkeypatch.setattr(html_text._HtmlText, "close", _boom)
    assert html_to_text("<p>Hello Bob</p>").strip() == "Hello Bob"
    assert take_internal_errors() == {"bodytext": 1}
