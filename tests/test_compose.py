"""compose.py: the built-in library's tone and shape, variant choice, error locations, and draft framing."""

from __future__ import annotations

import difflib
import email
import email.policy
import itertools
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.clean import reply_subject, sanitize_header_value
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.message import (
    MAX_REFERENCES,
    build_draft,
    draft_message_id,
    reference_chain,
    validate_header_name,
)
from followupd.compose.render import (
    VARIABLES,
    RenderContext,
    Rendered,
    first_name_of,
    human_join,
    human_when,
    render,
    template_variables,
)
from followupd.compose.variant import STAGES, TemplateVariant
from followupd.errors import TemplateError
from followupd.mail.headers import Address

BERLIN = ZoneInfo("Europe/Berlin")
ME = Address("zoe@example.com", "Zoe Adams")
ANA = Address("ana@example.com", "Ana Lima")
BOB = Address("bob@example.org", "Bob Stone")
CY = Address("cy@example.net", "Lima, Cyrus")
NAMELESS = Address("dee@example.com", "")

BANNED_PHRASES = (
    "just checking in", "checking in", "circling back", "circle back", "bumping this", "bump", "per my last",
    "as i said", "as per", "asap", "urgent", "touching base", "touch base", "friendly reminder",
    "gentle reminder", "still waiting", "haven't heard back", "any update", "just following up",
)
STOP_WORDS = ("stop", "leave it", "let this rest", "no longer", "drop")


def make_ctx(**changes: object) -> RenderContext:
    base = RenderContext(
        recipients=(ANA,),
        cc=(),
        original_subject="Q3 budget",
        sent_at=datetime(2025, 11, 3, 9, 30, tzinfo=BERLIN),   # a Monday
        now=datetime(2025, 11, 12, 10, 0, tzinfo=BERLIN),      # the Wednesday after next
        tz=BERLIN,
        touch_number=1,
        total_touches=4,
        promised=None,
        user_name="Zoe Adams",
        signature="Zoe Adams\nAcme Ltd",
        note=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


CONTEXTS = {
    "one-named": make_ctx(),
    "two-promise-note": make_ctx(
        recipients=(ANA, BOB), touch_number=2, promised=date(2025, 11, 10),
        note="Happy to adjust the scope if that would make things easier for your team.",
    ),
    "nameless-no-subject": make_ctx(recipients=(NAMELESS,), original_subject="", touch_number=3),
    "three-mixed-final": make_ctx(
        recipients=(ANA, CY, NAMELESS), cc=(BOB,), original_subject="AW: Re: Angebot für Q4",
        touch_number=4, promised=date(2025, 11, 7), note="The draft contract is attached again.",
        sent_at=datetime(2024, 12, 30, 17, 0, tzinfo=BERLIN),
    ),
    "single-touch": make_ctx(recipients=(BOB,), total_touches=1, promised=date(2025, 11, 12)),
}


@pytest.fixture(scope="module")
def library() -> TemplateLibrary:
    return TemplateLibrary.load(builtin_templates_dir())


def words(text: str) -> list[str]:
    return text.split()


def write_template(root: Path, key: str, text: str) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ built-in library


def test_builtin_library_has_every_stage_with_at_least_four_variants(library: TemplateLibrary) -> None:
    assert builtin_templates_dir() == Path(__file__).resolve().parent.parent / "templates"
    assert library.stages() == STAGES
    for stage in STAGES:
        assert len(library.variants(stage)) >= 4, stage
    keys = [variant.key for variant in library.all_variants()]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"(first|middle|later|final)/[a-z0-9-]+\.txt", key) for key in keys)


@pytest.mark.parametrize("ctx_name", sorted(CONTEXTS))
def test_every_builtin_variant_renders_short_and_polite(library: TemplateLibrary, ctx_name: str) -> None:
    ctx = CONTEXTS[ctx_name]
    for variant in library.all_variants():
        rendered = render(variant, ctx)
        body = rendered.body
        where = f"{variant.key} with {ctx_name}:\n{body}"
        assert rendered.template == variant.key
        assert len(words(body)) < 90, where
        lowered = body.lower()
        for phrase in BANNED_PHRASES:
            assert phrase not in lowered, f"{phrase!r} in {where}"
        assert "!!" not in body and "??" not in body, where
        assert "!" not in body, where  # calm notes do not need exclamation marks at all
        shouting = [w for w in re.findall(r"[A-Za-zÀ-ÿ]+", body) if len(w) >= 3 and w.isupper()]
        assert not shouting, where
        assert "  " not in body and "\n\n\n" not in body and not body.startswith("\n"), where
        assert body.endswith("Acme Ltd\n"), where
        assert rendered.subject.startswith("Re:") and "Re: Re:" not in rendered.subject, where
        assert "{{" not in body and "{%" not in body and "None" not in body, where


@pytest.mark.parametrize("ctx_name", sorted(CONTEXTS))
def test_builtin_variants_use_the_thread_specifics(library: TemplateLibrary, ctx_name: str) -> None:
    ctx = CONTEXTS[ctx_name]
    variables = template_variables(ctx)
    for variant in library.all_variants():
        body = render(variant, ctx).body
        if ctx.note:
            assert ctx.note in body, variant.key
        if ctx.promised and variant.stage == "first" and ctx.total_touches > 1:
            promised = (str(variables["promised_when"]), str(variables["promised_date"]))
            assert any(phrase in body for phrase in promised), variant.key
        if variables["first_names"]:
            assert str(variables["first_names"]) in body, variant.key


def test_greeting_names(library: TemplateLibrary) -> None:
    body = render(library.variants("first")[0], CONTEXTS["three-mixed-final"]).body
    assert "Ana and Cyrus" in body           # "Lima, Cyrus" is directory order; the nameless one is left out
    nameless = render(library.variants("first")[0], CONTEXTS["nameless-no-subject"]).body
    assert "dee@" not in nameless and " ," not in nameless and '""' not in nameless


def test_final_variants_ask_whether_to_stop(library: TemplateLibrary) -> None:
    for variant in library.variants("final"):
        body = render(variant, make_ctx(touch_number=4)).body
        questions = re.findall(r"[^.?!\n]*\?", body)
        assert any(word in q.lower() for q in questions for word in STOP_WORDS), f"{variant.key}:\n{body}"


def test_variants_of_a_stage_are_not_near_duplicates(library: TemplateLibrary) -> None:
    ctx = make_ctx(recipients=(ANA, BOB), promised=date(2025, 11, 10))
    for stage in STAGES:
        bodies = {v.key: render(v, replace(ctx, touch_number=STAGES.index(stage) + 1)).body
                  for v in library.variants(stage)}
        for (a, body_a), (b, body_b) in itertools.combinations(bodies.items(), 2):
            ratio = difflib.SequenceMatcher(None, body_a, body_b).ratio()
            assert ratio < 0.8, f"{a} and {b} are {ratio:.2f} similar"


def test_no_two_variants_share_an_opening_sentence(library: TemplateLibrary) -> None:
    """Structure, not just synonyms: the first sentence after the greeting differs everywhere."""
    ctx = make_ctx()
    openings = []
    for variant in library.all_variants():
        body = render(variant, ctx).body
        lines = [line for line in body.split("\n") if line and not line.startswith(("Hi ", "Hello "))]
        openings.append(" ".join(lines[0].split()[:4]))
    assert len(openings) == len(set(openings)), openings


def test_template_variables_are_exactly_the_documented_names() -> None:
    variables = template_variables(make_ctx(promised=date(2025, 11, 10), note="x"))
    assert set(variables) == set(VARIABLES)
    readme = (builtin_templates_dir() / "README.md").read_text(encoding="utf-8")
    for name in VARIABLES:
        assert f"`{name}`" in readme, name


def test_template_variables_values() -> None:
    v = template_variables(CONTEXTS["three-mixed-final"])
    assert v["first_names"] == "Ana and Cyrus"
    assert v["first_name"] == "Ana"
    assert v["names"] == "Ana Lima, Lima, Cyrus and dee@example.com"
    assert v["topic"] == "Angebot für Q4"
    assert v["reply_subject"] == "Re: Angebot für Q4"
    assert v["sent_when"] == "on 30 December 2024"
    assert v["sent_date"] == "30 December 2024"
    assert v["promised_when"] == "last Friday"
    assert v["promised_date"] == "7 November"
    assert v["is_final"] is True
    assert v["cc"] == [{"name": "Bob Stone", "first_name": "Bob", "email": "bob@example.org"}]
    many = template_variables(make_ctx(recipients=(ANA, BOB, CY, Address("e@x.org", "Eve"))))
    assert many["first_names"] == "everyone"
    plain = template_variables(make_ctx(signature="", note="  "))
    assert plain["signature"] == "Zoe Adams" and plain["note"] is None and plain["promised_when"] == ""


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        template_variables(make_ctx(now=datetime(2025, 11, 12, 10, 0)))


def test_first_names_and_join() -> None:
    assert first_name_of("Ana Lima") == "Ana"
    assert first_name_of("Lima, Ana") == "Ana"
    assert first_name_of('"Bob"') == "Bob"
    assert first_name_of("bob@example.com") == ""
    assert first_name_of("") == ""
    assert human_join(["Ana"]) == "Ana"
    assert human_join(["Ana", "Bob"]) == "Ana and Bob"
    assert human_join(["Ana", "", "Bob", "Cy"]) == "Ana, Bob and Cy"


# ------------------------------------------------------------------------------------------------ human_when


@pytest.mark.parametrize(
    ("sent", "now", "expected"),
    [
        # 2025-11-10 is a Monday; weeks start on Monday.
        (datetime(2025, 11, 12, 8), datetime(2025, 11, 12, 18), "today"),
        (datetime(2025, 11, 11, 23), datetime(2025, 11, 12, 1), "yesterday"),
        (datetime(2025, 11, 10, 9), datetime(2025, 11, 12, 9), "on Monday"),
        (datetime(2025, 11, 10, 0, 5), datetime(2025, 11, 16, 23, 55), "on Monday"),     # Sunday, same week
        (datetime(2025, 11, 8, 9), datetime(2025, 11, 10, 9), "last Saturday"),          # over the weekend
        (datetime(2025, 11, 4, 9), datetime(2025, 11, 10, 9), "last Tuesday"),           # six days, last week
        (datetime(2025, 11, 3, 9), datetime(2025, 11, 10, 9), "on 3 November"),          # a week: the date
        (datetime(2025, 11, 5, 9), datetime(2025, 11, 12, 9), "on 5 November"),
        (datetime(2024, 12, 30, 9), datetime(2025, 1, 2, 9), "on Monday"),               # ISO week 2025-W01
        (datetime(2024, 12, 27, 9), datetime(2025, 1, 2, 9), "last Friday"),
        (datetime(2024, 12, 20, 9), datetime(2025, 1, 2, 9), "on 20 December 2024"),
    ],
)
def test_human_when(sent: datetime, now: datetime, expected: str) -> None:
    assert human_when(sent.replace(tzinfo=BERLIN), now.replace(tzinfo=BERLIN), BERLIN) == expected


def test_human_when_counts_days_in_the_users_zone() -> None:
    sent = datetime(2025, 11, 11, 23, 30, tzinfo=UTC)   # 00:30 on the 12th in Berlin
    now = datetime(2025, 11, 12, 10, 0, tzinfo=UTC)
    assert human_when(sent, now, BERLIN) == "today"
    assert human_when(sent, now, ZoneInfo("UTC")) == "yesterday"


def test_future_dates_for_promised_when() -> None:
    ctx = make_ctx(now=datetime(2025, 11, 12, 10, tzinfo=BERLIN))
    assert template_variables(replace(ctx, promised=date(2025, 11, 13)))["promised_when"] == "tomorrow"
    assert template_variables(replace(ctx, promised=date(2025, 11, 14)))["promised_when"] == "on Friday"
    assert template_variables(replace(ctx, promised=date(2025, 11, 17)))["promised_when"] == "next Monday"


# --------------------------------------------------------------------------------------- stages and choice


def test_stage_for_touch() -> None:
    assert [stage_for_touch(n, 4, STAGES) for n in range(1, 5)] == ["first", "middle", "later", "final"]
    assert [stage_for_touch(n, 6, STAGES) for n in range(1, 7)] == [
        "first", "middle", "later", "later", "later", "final"]
    assert stage_for_touch(1, 1, STAGES) == "final"          # the only follow-up is also the last
    assert [stage_for_touch(n, 2, STAGES) for n in (1, 2)] == ["first", "final"]
    with pytest.raises(ValueError):
        stage_for_touch(5, 4, STAGES)
    with pytest.raises(ValueError):
        stage_for_touch(1, 4, ())


def test_stage_for_touch_falls_back_to_the_nearest_stage() -> None:
    assert stage_for_touch(2, 4, ("first", "later", "final")) == "first"   # tie goes to the gentler stage
    assert stage_for_touch(3, 4, ("first", "final")) == "first"            # final only as a last resort
    assert stage_for_touch(4, 4, ("first", "middle")) == "middle"
    assert stage_for_touch(1, 4, ("final",)) == "final"


def test_choose_variant_never_repeats_within_a_thread(library: TemplateLibrary) -> None:
    used: list[str] = []
    for touch in range(1, len(library.all_variants()) + 1):
        stage = stage_for_touch(min(touch, 3), 4, library.stages())
        chosen = choose_variant(library, stage, used_in_thread=used, seed="thread-42")
        if chosen is None:
            break
        assert chosen.key not in used
        used.append(chosen.key)
    # Every variant once, except first-touch ones after touch 2: later touches borrow middle and final, never first.
    first = {v.key for v in library.variants("first")}
    assert used[0] in first and not first & set(used[1:])
    assert sorted(used) == sorted(v.key for v in library.all_variants() if v.key not in first or v.key == used[0])
    assert choose_variant(library, "later", used_in_thread=used, seed="thread-42") is None
    everything = [v.key for v in library.all_variants()]
    assert choose_variant(library, "first", used_in_thread=everything, seed="thread-42") is None


def test_choose_variant_is_deterministic_and_seed_dependent(library: TemplateLibrary) -> None:
    picks = {choose_variant(library, "first", used_in_thread=(), seed=f"t{n}") for n in range(40)}
    assert len(picks) > 1                                       # different threads get different openers
    for n in range(40):
        a = choose_variant(library, "first", used_in_thread=(), seed=f"t{n}")
        fresh_library = TemplateLibrary.load(builtin_templates_dir())
        b = choose_variant(fresh_library, "first", used_in_thread=(), seed=f"t{n}")
        assert a is not None and b is not None and a.key == b.key


def test_choose_variant_prefers_what_the_person_has_not_seen(library: TemplateLibrary) -> None:
    keys = [v.key for v in library.variants("middle")]
    for n in range(20):
        chosen = choose_variant(library, "middle", used_in_thread=(), recently_used_with_person=keys[:-1],
                                seed=f"s{n}")
        assert chosen is not None and chosen.key == keys[-1]
    # Seen recently is a preference; used in this thread is a rule.
    chosen = choose_variant(library, "middle", used_in_thread=keys[-1:], recently_used_with_person=keys[:-1],
                            seed="s")
    assert chosen is not None and chosen.key in keys[:-1]


def test_choose_variant_falls_back_to_other_stages(library: TemplateLibrary) -> None:
    middle = [v.key for v in library.variants("middle")]
    chosen = choose_variant(library, "middle", used_in_thread=middle, seed="x")
    assert chosen is not None and chosen.stage == "first"
    finals = [v.key for v in library.variants("final")]
    chosen = choose_variant(library, "final", used_in_thread=finals, seed="x")
    assert chosen is not None and chosen.stage == "later"


def test_adding_a_template_does_not_reshuffle_other_choices(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        write_template(tmp_path, f"first/{name}.txt", f"Subject: {{{{ reply_subject }}}}\n\n{name}\n")
    before = TemplateLibrary.load(tmp_path)
    picks = {n: choose_variant(before, "first", used_in_thread=(), seed=str(n)) for n in range(50)}
    write_template(tmp_path, "first/e.txt", "Subject: {{ reply_subject }}\n\ne\n")
    after = TemplateLibrary.load(tmp_path)
    for n, pick in picks.items():
        new = choose_variant(after, "first", used_in_thread=(), seed=str(n))
        assert new is not None and pick is not None
        assert new.key in (pick.key, "first/e.txt")


# ------------------------------------------------------------------------------------------- loading errors


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("Hello\n\nbody\n", 1, "Subject"),
        ("Subject:   \n\nbody\n", 1, "empty"),
        ("Subject: {{ reply_subject }}\nbody right away\n", 2, "blank line"),
        ("Subject: {{ reply_subject }}\n\n  \n\n", 3, "body is empty"),
        ("Subject: {{ reply_subject }}", 2, "blank line"),
        ("Subject: {{ reply_subject }}\n", 3, "body is empty"),
        ("Subject: {{ reply_subject \n\nbody\n", 1, ""),
        ("Subject: {{ reply_subject }}\n\nHi,\n\n{% if note %}\n{{ note }}\n", 6, "endif"),  # unclosed if
        ("Subject: {{ reply_subject }}\n\nHi,\nthere\n{{ signature | nosuchfilter }}\n", 5, "nosuchfilter"),
        ("Subject: {{ reply_subject }}\n\nHi,\n\n{{ frist_name }}\n", 5, "frist_name"),
        ("Subject: {{ reply_subjct }}\n\nHi\n", 1, "reply_subjct"),
    ],
)
def test_load_errors_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write_template(tmp_path, "first/broken.txt", text)
    with pytest.raises(TemplateError) as info:
        TemplateLibrary.load(tmp_path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path} line {line}: ")
    assert fragment in str(info.value)


def test_load_accepts_crlf_and_bom_and_ignores_other_files(tmp_path: Path) -> None:
    write_template(tmp_path, "final/x.txt", "\ufeffSubject: {{ reply_subject }}\r\n\r\nShall I stop?\r\n")
    write_template(tmp_path, "README.md", "notes")
    write_template(tmp_path, "final/notes.md", "not a template")
    write_template(tmp_path, "final/.hidden.txt", "junk")
    (tmp_path / "__pycache__").mkdir()
    library = TemplateLibrary.load(tmp_path)
    assert library.stages() == ("final",)
    assert [v.key for v in library.all_variants()] == ["final/x.txt"]
    assert library.get("final/x.txt") is not None and library.get("first/x.txt") is None
    assert render(library.variants("final")[0], make_ctx()).body == "Shall I stop?\n"


def test_load_refuses_misplaced_templates(tmp_path: Path) -> None:
    write_template(tmp_path, "first/ok.txt", "Subject: x\n\nbody\n")
    write_template(tmp_path, "finale/typo.txt", "Subject: x\n\nbody\n")
    with pytest.raises(TemplateError, match="unknown stage folder 'finale'"):
        TemplateLibrary.load(tmp_path)


def test_load_refuses_an_empty_library(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    with pytest.raises(TemplateError, match="no templates"):
        TemplateLibrary.load(tmp_path)
    with pytest.raises(TemplateError, match="not found"):
        TemplateLibrary.load(tmp_path / "missing")


def test_load_refuses_invalid_utf8_with_line(tmp_path: Path) -> None:
    path = tmp_path / "first" / "bad.txt"
    path.parent.mkdir()
    path.write_bytes(b"Subject: x\n\nline 3\ncaf\xe9\n")
    with pytest.raises(TemplateError) as info:
        TemplateLibrary.load(tmp_path)
    assert info.value.line == 4


# -------------------------------------------------------------------------------------------- render errors


def test_render_error_points_at_the_file_line(tmp_path: Path) -> None:
    # body line 3 is file line 5 (Subject, blank, then the body from line 3)
    write_template(tmp_path, "first/x.txt",
                   "Subject: {{ reply_subject }}\n\nHi {{ first_name }},\n\n{{ recipients[3].name }}\n")
    variant = TemplateLibrary.load(tmp_path).variants("first")[0]
    with pytest.raises(TemplateError) as info:
        render(variant, make_ctx())
    assert info.value.line == 5
    assert info.value.path == str(variant.path)
    assert str(info.value).startswith(f"{variant.path} line 5: ")
    assert "no element 3" in str(info.value)


def test_render_undefined_variable_of_a_hand_built_variant() -> None:
    variant = TemplateVariant(
        stage="first", name="x", key="first/x.txt", path=Path("templates/first/x.txt"),
        subject_source="{{ reply_subject }}", body_source="Hi,\n\n{{ foo }}\n", body_first_line=3,
    )
    with pytest.raises(TemplateError) as info:
        render(variant, make_ctx())
    assert str(info.value) == "templates/first/x.txt line 5: 'foo' is undefined"
    assert (info.value.path, info.value.line) == ("templates/first/x.txt", 5)


def test_render_error_in_subject_and_runtime_errors(tmp_path: Path) -> None:
    write_template(tmp_path, "first/x.txt", "Subject: {{ recipients[9].email }}\n\nHi\n")
    write_template(tmp_path, "final/y.txt", "Subject: x\n\na\nb\n{{ touch_number / 0 }}\n")
    library = TemplateLibrary.load(tmp_path)
    with pytest.raises(TemplateError) as info:
        render(library.variants("first")[0], make_ctx())
    assert info.value.line == 1
    with pytest.raises(TemplateError) as info:
        render(library.variants("final")[0], make_ctx())
    assert info.value.line == 5
    assert "division" in str(info.value)


def test_render_syntax_error_of_a_hand_built_variant() -> None:
    variant = TemplateVariant(
        stage="first", name="x", key="first/x.txt", path=Path("templates/first/x.txt"),
        subject_source="{{ reply_subject }}", body_source="one\ntwo\n{% if %}\n", body_first_line=3,
    )
    with pytest.raises(TemplateError) as info:
        render(variant, make_ctx())
    assert info.value.line == 5
    assert str(info.value).startswith("templates/first/x.txt line 5: ")


def test_the_sandbox_blocks_internals(tmp_path: Path) -> None:
    write_template(tmp_path, "first/x.txt", "Subject: x\n\n{{ signature.__class__.__mro__ }}\n")
    with pytest.raises(TemplateError):
        render(TemplateLibrary.load(tmp_path).variants("first")[0], make_ctx())


def test_rendered_subject_is_one_line_and_body_is_tidy(tmp_path: Path) -> None:
    source = "Subject: {{ reply_subject }}\n\nHi   \n\n\n\n{% if note %}\n{{ note }}\n{% endif %}\n\nBye\n\n"
    write_template(tmp_path, "first/x.txt", source)
    variant = TemplateLibrary.load(tmp_path).variants("first")[0]
    rendered = render(variant, make_ctx(original_subject="hi\r\nBcc: evil@x", note="a\rb\x00c"))
    assert rendered.subject == "Re: hi Bcc: evil@x"
    assert rendered.body == "Hi\n\na\nbc\n\nBye\n"


# ---------------------------------------------------------------------------------------- subject and ids


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Q3 budget", "Re: Q3 budget"),
        ("Re: Q3 budget", "Re: Q3 budget"),
        ("RE: Re: re:Q3 budget", "Re: Q3 budget"),
        ("AW: Re: Angebot", "Re: Angebot"),
        ("Fwd: RE[2]: SV: Offer", "Re: Offer"),
        ("Re(3): FW: hello WORLD", "Re: hello WORLD"),
        ("Re\uff1a\u5168\u89d2", "Re: \u5168\u89d2"),  # a CJK client's full-width colon
        ("Regarding: the lease", "Re: Regarding: the lease"),
        ("Re: ", "Re:"),
        ("", "Re:"),
        ("line\r\nBcc: x@y", "Re: line Bcc: x@y"),
    ],
)
def test_reply_subject(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


def test_sanitize_header_value() -> None:
    assert sanitize_header_value(" a\r\nb\tc\x00d\u2028e\x85f  ") == "a b c d e f"
    assert sanitize_header_value("") == ""


def test_validate_header_name() -> None:
    assert validate_header_name("X-Followupd-Id") == "X-Followupd-Id"
    for bad in ("", "X Foo", "X:Foo", "X-Foo\r\nBcc", "Bcc\n", "Ünicode"):
        with pytest.raises(ValueError):
            validate_header_name(bad)


def test_draft_message_id_looks_like_a_mail_clients_and_is_deterministic() -> None:
    mid = draft_message_id("42", 3, "Example.COM")
    # Thunderbird's shape: a version 4 UUID at the sender's domain; no tool name, no recognisable pattern.
    assert re.fullmatch(r"<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@example\.com>", mid)
    assert "followupd" not in mid and "42" not in mid.partition("@")[0].replace("-", " ").split()
    assert draft_message_id("42", 3, "example.com") == mid
    assert draft_message_id("42", 4, "example.com") != mid
    assert draft_message_id("43", 3, "example.com") != mid
    odd = draft_message_id("a b<c>@d", 1, "example.com")
    assert odd.endswith("@example.com>") and odd != draft_message_id("a-b<c>@d", 1, "example.com")
    assert draft_message_id("t1", 1, "bücher.example").endswith("@xn--bcher-kva.example>")
    many = {draft_message_id(f"t{t}", n, "example.com") for t in range(200) for n in range(1, 12)}
    assert len(many) == 200 * 11
    for domain in ("", "exa mple.com", "a..b", "-x.com", "x.com>"):
        with pytest.raises(ValueError):
            draft_message_id("t1", 1, domain)
    with pytest.raises(ValueError):
        draft_message_id("t1", 0, "example.com")


def test_reference_chain_dedupes_and_trims() -> None:
    refs = ["<root@x>", "<a@x>", "junk", "<a@x>", "<parent@x>", "<b@x>"]
    assert reference_chain(refs, "<parent@x>") == ["<root@x>", "<a@x>", "<b@x>", "<parent@x>"]
    many = [f"<m{i}@x>" for i in range(50)]
    chain = reference_chain(many, "<parent@x>")
    assert len(chain) == MAX_REFERENCES
    assert chain[0] == "<m0@x>" and chain[-1] == "<parent@x>" and chain[-2] == "<m49@x>"
    assert reference_chain([], "parent@x") == ["<parent@x>"]


# -------------------------------------------------------------------------------------------------- drafts


def draft(**changes: object) -> bytes:
    args: dict[str, object] = {
        "rendered": Rendered(subject="Re: Q3 budget", body="Hi Ana,\n\nShort note.\n\nZoe\n",
                             template="first/x.txt"),
        "from_": ME,
        "to": [ANA],
        "cc": [BOB],
        "in_reply_to": "<orig@example.com>",
        "references": ["<root@example.com>", "<orig@example.com>"],
        "message_id": draft_message_id("42", 1, "example.com"),
        "date": datetime(2025, 11, 12, 10, 0, tzinfo=BERLIN),
    }
    args.update(changes)
    return build_draft(**args)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    """The decoded body with the wire's CRLF turned back into the LF the template produced."""
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_draft_headers_parse_back() -> None:
    raw = draft()
    msg = parse(raw)
    assert msg["From"] == "Zoe Adams <zoe@example.com>"
    assert msg["To"] == "Ana Lima <ana@example.com>"
    assert msg["Cc"] == "Bob Stone <bob@example.org>"
    assert msg["Subject"] == "Re: Q3 budget"
    assert msg["Message-ID"] == draft_message_id("42", 1, "example.com")
    assert msg["In-Reply-To"] == "<orig@example.com>"
    assert msg["References"] == "<root@example.com> <orig@example.com>"
    assert not [name for name in msg if name.lower().startswith("x-")]  # no marker header: nothing of the tool
    assert b"followupd" not in raw.lower() and b"user-agent" not in raw.lower()
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"] == "Wed, 12 Nov 2025 10:00:00 +0100"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert text_of(msg) == "Hi Ana,\n\nShort note.\n\nZoe\n"
    assert "Bcc" not in msg
    assert raw == draft()                          # deterministic bytes for the same input


def test_draft_uses_crlf_only() -> None:
    raw = draft(rendered=Rendered("Re: x", "line one\nline two\n" + "long words " * 30 + "\n", "k"))
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))


def test_rendered_template_threads_through_to_the_draft(library: TemplateLibrary) -> None:
    ctx = make_ctx(original_subject="AW: Re: Angebot")
    rendered = render(library.variants("first")[0], ctx)
    msg = parse(draft(rendered=rendered))
    assert msg["Subject"] == "Re: Angebot"


def test_header_injection_through_subject_and_names_adds_no_header() -> None:
    raw = draft(
        rendered=Rendered("hi\r\nBcc: evil@x", "body\n", "k"),
        to=[Address("ana@example.com", "Ana\r\nBcc: evil@x")],
        cc=[],
        from_=Address("zoe@example.com", "Zoe\nX-Evil: 1"),
    )
    msg = parse(raw)
    assert "Bcc" not in msg and "X-Evil" not in msg
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    assert msg["Subject"] == "hi Bcc: evil@x"
    assert msg["To"].addresses[0].addr_spec == "ana@example.com"


def test_bad_header_names_are_refused() -> None:
    for name in ("X-Bad Name", "X-Bad\r\nBcc", "Bcc:", ""):
        with pytest.raises(ValueError, match="invalid header name"):
            draft(extra_headers=[(name, "v")])
    with pytest.raises(ValueError, match="override"):
        draft(extra_headers=[("bcc", "evil@x")])
    msg = parse(draft(extra_headers=[("X-Mailer", "followupd\r\nBcc: x")]))
    assert msg["X-Mailer"] == "followupd Bcc: x" and "Bcc" not in msg


def test_user_and_tracking_addresses_never_become_recipients() -> None:
    msg = parse(draft(
        to=[ANA, Address("ZOE@example.com", "Me"), Address("zoe+followup@example.com", ""), ANA],
        cc=[BOB, ANA, Address("zoe+followup@example.com", "")],
        exclude=["Zoe+Followup@example.com"],
    ))
    assert [a.addr_spec for a in msg["To"].addresses] == ["ana@example.com"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["bob@example.org"]
    with pytest.raises(ValueError, match="no recipients"):
        draft(to=[ME], cc=[], exclude=[])
    assert "Cc" not in parse(draft(cc=[]))


def test_long_ids_are_folded_between_ids_never_encoded() -> None:
    long_ids = [f"<{'x' * 70}.{i}@mail.example.com>" for i in range(25)]
    parent = "<" + "p" * 120 + "@example.com>"
    raw = draft(references=long_ids, in_reply_to=parent, message_id="<" + "m" * 100 + "@example.com>")
    assert b"=?" not in raw
    msg = parse(raw)
    refs = str(msg["References"]).split()
    assert len(refs) == MAX_REFERENCES and refs[0] == long_ids[0] and refs[-1] == parent
    assert str(msg["In-Reply-To"]) == parent
    assert str(msg["Message-ID"]) == "<" + "m" * 100 + "@example.com>"


def test_invalid_ids_and_dates_are_refused() -> None:
    with pytest.raises(ValueError):
        draft(in_reply_to="not an id")
    with pytest.raises(ValueError):
        draft(message_id="<a@b>\r\nBcc: x")
    with pytest.raises(ValueError):
        draft(date=datetime(2025, 11, 12, 10, 0))


def test_non_ascii_body_and_names() -> None:
    body = "Hallo Jürgen,\n\nkurze Nachfrage zu „Angebot“.\n\nZoë\n"
    raw = draft(
        rendered=Rendered("Re: Angebot für Q4", body, "k"),
        to=[Address("jurgen@bücher.example", "Jürgen Groß")],
        cc=[],
    )
    assert raw.isascii()
    msg = parse(raw)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(msg) == body
    assert msg["Subject"] == "Re: Angebot für Q4"
    assert msg["To"].addresses[0].display_name == "Jürgen Groß"
    assert msg["To"].addresses[0].addr_spec == "jurgen@xn--bcher-kva.example"
    with pytest.raises(ValueError, match="ASCII local part"):
        draft(to=[Address("jürgen@example.com", "")], cc=[])


def test_long_paragraph_lines_use_quoted_printable() -> None:
    body = "word " * 40 + "\n"
    msg = parse(draft(rendered=Rendered("Re: x", body, "k")))
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(msg) == body


# ------------------------------------------------------------------------------------------------ purity


def test_render_is_pure_given_now(library: TemplateLibrary) -> None:
    ctx = make_ctx()
    variant = library.variants("first")[0]
    assert render(variant, ctx) == render(variant, ctx)
    later = replace(ctx, now=ctx.now + timedelta(days=30))
    assert template_variables(ctx)["days_since"] == 9
    assert template_variables(later)["days_since"] == 39
