"""Personal data in English and Japanese text: found, replaced by placeholders, restored.

Before an item's text or a retrieved passage is sent to a model outside the workspace, every
personal datum in it becomes a placeholder such as `<EMAIL_1>`; the model answers with the
placeholders, and `restore` puts the originals back. The same value always gets the same
placeholder within one redaction, so the model can still tell two people apart.

**What is found, and how.** Direct identifiers have defined formats, so they are matched by
pattern and, where the standard has one, confirmed by its check digit, which keeps random
numbers out: e-mail addresses; phone numbers (international, North American, British and
Japanese forms, with full-width digits); payment card numbers (13–19 digits, Luhn); IBANs
(mod 97); bank account numbers after the word "account" or 口座; Japan's My Number (12 digits
with its check digit, the rule of the My Number Act's ordinance); postal codes (Japanese
〒123-4567 or 123-4567, British postcodes, US ZIP codes after a state); dates of birth (a date
after "born", "DOB", "date of birth", 生年月日 or 生まれ); street addresses (a house number
and a street type in English; a prefecture, municipality and block number in Japanese).
English names are found only in contexts that announce them (a title such as Mr or Dr, "my
name is", a signature after a dash or "Regards,"); Japanese names wherever Sudachi's dictionary
tags a family and a given name (人名) or a name before an honorific, and after 氏名 or 名前.
Finding every name needs a named-entity model, which this module does not use.
docs/privacy.md states the measured recall per kind.

Matching never relies on word boundaries between scripts (`\\b` fails next to kana), and runs
on the text as written (full-width digits included), so positions point into the original.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from deshi.engine.japanese import person_name_spans

__all__ = ["Finding", "Kind", "Redaction", "Redactor", "find_pii", "redact", "restore"]


class Kind(StrEnum):
    """A kind of personal datum; its name is the placeholder's prefix."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CARD = "CARD"
    IBAN = "IBAN"
    ACCOUNT = "ACCOUNT"
    MY_NUMBER = "MY_NUMBER"
    POSTAL_CODE = "POSTAL_CODE"
    BIRTH_DATE = "BIRTH_DATE"
    ADDRESS = "ADDRESS"
    PERSON = "PERSON"


@dataclass(frozen=True, slots=True)
class Finding:
    """One personal datum: its kind and where it stands in the text (`text[start:end]`)."""

    kind: Kind
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """A text with its personal data replaced, and the placeholders' originals."""

    text: str
    originals: dict[str, str] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def count(self) -> int:
        """How many data were replaced (what the audit log records, never the data)."""
        return len(self.findings)


_D: Final = "[0-9０-９]"  # a digit, half- or full-width
_SEP: Final = "[-‐－ー ]"  # a separator inside a number: hyphens (also full-width), a space
# A number starts and ends where no digit or letter touches it, nor a digit one separator away
# (so 12 of a card's 16 digits are not taken for a My Number).
_JP_BOUNDARY: Final = r"(?<![0-9０-９A-Za-z])(?<![0-9０-９][-‐－ー ])"
_JP_END: Final = r"(?![0-9０-９A-Za-z])(?![-‐－ー ][0-9０-９])"


def _digits(text: str) -> str:
    """The ASCII digits of `text` (full-width ones folded)."""
    return "".join(str(ord(c) - 0xFF10) if "０" <= c <= "９" else c for c in text if c.isdigit())


def _luhn(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def my_number_valid(number: str) -> bool:
    """Whether 12 digits carry a valid My Number check digit (個人番号の検査用数字)."""
    if len(number) != 12 or not number.isdigit():
        return False
    body = number[:11]
    weighted = 0
    for n in range(1, 12):  # P_n is the n-th digit from the right of the 11-digit body
        p = int(body[11 - n])
        q = n + 1 if n <= 6 else n - 5
        weighted += p * q
    remainder = weighted % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(number[11])


def _iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


_Check = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Pattern:
    kind: Kind
    regex: re.Pattern[str]
    check: _Check | None = None
    group: str | int = 0  # the part of the match that is the datum


def _p(kind: Kind, pattern: str, check: _Check | None = None, group: str | int = 0) -> _Pattern:
    """A rule; case matters (names are capitalised), so context words say `(?i:…)` inline."""
    return _Pattern(kind, re.compile(pattern), check, group)


_DATE: Final = (
    rf"(?:{_D}{{4}}[-/.年]{_D}{{1,2}}[-/.月]{_D}{{1,2}}日?"  # 1985-04-12, 1985年4月12日
    rf"|(?:明治|大正|昭和|平成|令和){_D}{{1,2}}年{_D}{{1,2}}月{_D}{{1,2}}日"
    rf"|{_D}{{1,2}}[-/.]{_D}{{1,2}}[-/.]{_D}{{4}}"  # 12/04/1985
    r"|(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{1,2},? \d{4}"
    r"|\d{1,2} (?:January|February|March|April|May|June|July|August|September|October"
    r"|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{4})"
)
_PREFECTURE: Final = (
    r"(?:北海道|東京都|京都府|大阪府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉"
    r"|神奈川|新潟|富山|石川|福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根"
    r"|岡山|広島|山口|徳島|香川|愛媛|高知|福岡|佐賀|長崎|熊本|大分|宮崎|鹿児島|沖縄)県)"
)
_US_STATES: Final = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ"
    "|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC"
)
_NAME_WORD: Final = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_KANJI_NAME: Final = r"[一-龯々]{1,4}(?:[ 　]?[一-龯々]{1,4})?"

# Order matters where matches overlap: earlier patterns win (a card number is not a phone).
_PATTERNS: Final = (
    _p(Kind.EMAIL, r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    _p(
        Kind.IBAN,
        r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Z0-9])",
        _iban_valid,
    ),
    _p(
        Kind.CARD,
        rf"{_JP_BOUNDARY}{_D}(?:{_SEP}?{_D}){{12,18}}{_JP_END}",
        lambda v: 13 <= len(_digits(v)) <= 19 and _luhn(_digits(v)),
    ),
    _p(
        Kind.MY_NUMBER,
        rf"{_JP_BOUNDARY}{_D}{{4}}{_SEP}?{_D}{{4}}{_SEP}?{_D}{{4}}{_JP_END}",
        lambda v: my_number_valid(_digits(v)),
    ),
    _p(
        Kind.BIRTH_DATE,
        rf"(?i:born(?: on)?|date of birth|d\.?o\.?b\.?|birthday|生年月日|誕生日)"
        rf"(?:[\s:：は]|(?i:is|was))*(?P<d>{_DATE})",
        group="d",
    ),
    _p(Kind.BIRTH_DATE, rf"(?P<d>{_DATE})[\s]*(?:生まれ|生)", group="d"),
    _p(
        Kind.ACCOUNT,
        rf"(?i:account|acct|口座)(?: ?(?i:number|no\.?|#|番号))?(?:[\s:：は]|(?i:is))*"
        rf"(?P<n>{_D}(?:{_SEP}?{_D}){{5,16}})",
        group="n",
    ),
    _p(
        Kind.PHONE,
        rf"(?:\+|＋){_D}{{1,3}}[ (\-‐－]*{_D}{{1,4}}[) \-‐－]*{_D}{{2,4}}[ \-‐－]*{_D}{{3,4}}"
        rf"(?:[ \-‐－]*{_D}{{2,4}})?{_JP_END}",
    ),  # +81-90-1234-5678, +44 20 7946 0958
    _p(
        Kind.PHONE,
        rf"{_JP_BOUNDARY}\(?{_D}{{2,5}}\)?[\-‐－ ]{_D}{{1,4}}[\-‐－ ]{_D}{{3,4}}{_JP_END}",
        lambda v: 10 <= len(_digits(v)) <= 11,
    ),  # 03-1234-5678, (555) 123-4567
    _p(Kind.PHONE, rf"{_JP_BOUNDARY}0[5789]0{_D}{{8}}{_JP_END}"),  # 09012345678
    _p(Kind.POSTAL_CODE, rf"〒\s*{_D}{{3}}[\-‐－]?{_D}{{4}}"),
    _p(Kind.POSTAL_CODE, rf"{_JP_BOUNDARY}{_D}{{3}}[\-‐－]{_D}{{4}}{_JP_END}"),
    _p(Kind.POSTAL_CODE, rf"(?<=\b(?:{_US_STATES}) )\d{{5}}(?:-\d{{4}})?\b"),
    _p(Kind.POSTAL_CODE, r"\b(?:GIR 0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b"),
    _p(
        Kind.ADDRESS,
        r"\b\d{1,5}(?: [A-Z][a-z]+){1,3} (?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd"
        r"|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Close|Crescent)\b\.?",
    ),
    _p(
        Kind.ADDRESS,
        rf"{_PREFECTURE}?(?:[一-龯ァ-ヶ々]{{1,6}}|さいたま|つくば|いわき|ひたちなか|みどり|あきる野)"
        rf"[市区町村郡][一-龯ぁ-んァ-ヶ々]{{0,8}}"
        rf"(?:{_D}{{1,4}}(?:丁目|番地?|号|[\-‐－]))+{_D}{{0,4}}号?",
    ),
    _p(
        Kind.PERSON,
        rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.? (?P<n>{_NAME_WORD}(?: {_NAME_WORD})?)",
        group="n",
    ),
    _p(
        Kind.PERSON,
        rf"\b(?i:my name is|I am|I'm|this is) (?P<n>{_NAME_WORD} {_NAME_WORD})",
        group="n",
    ),
    _p(
        Kind.PERSON,  # a signature: "— Ken Sato", "Kind regards,\nAnna Berg"
        r"(?:[—–]|--|(?i:regards|thanks|thank you|best|sincerely|cheers|yours)[,!.]?)\s*"
        rf"(?P<n>{_NAME_WORD} {_NAME_WORD})",
        group="n",
    ),
    _p(Kind.PERSON, rf"(?:氏名|名前|お名前)[\s:：は]*(?P<n>{_KANJI_NAME})", group="n"),
)
# "I am" and "this is" are ordinary words before a capitalised noun at the start of a sentence;
# the name rule needs two capitalised words, and these never start one.
_NOT_NAMES: Final = frozenset({"The", "This", "That", "A", "An", "My", "Your", "Our"})


def find_pii(text: str) -> list[Finding]:
    """Every personal datum in `text`, in order, without overlaps (the first pattern wins)."""
    taken: list[Finding] = []
    for pattern in _PATTERNS:
        for match in pattern.regex.finditer(text):
            start, end = match.span(pattern.group)
            value = text[start:end]
            if start == end or (pattern.check is not None and not pattern.check(value)):
                continue
            if pattern.kind is Kind.PERSON and value.split(" ")[0] in _NOT_NAMES:
                continue
            if any(start < f.end and f.start < end for f in taken):
                continue
            taken.append(Finding(pattern.kind, start, end, value))
    for start, end in person_name_spans(text):  # Japanese names, by Sudachi's dictionary
        if not any(start < f.end and f.start < end for f in taken):
            taken.append(Finding(Kind.PERSON, start, end, text[start:end]))
    return sorted(taken, key=lambda f: f.start)


def redact(text: str, *, kinds: Iterable[Kind] | None = None) -> Redaction:
    """`text` with each personal datum (of `kinds`, default all) replaced by `<KIND_n>`."""
    redactor = Redactor(kinds=kinds)
    redacted = redactor.redact(text)
    return Redaction(redacted, dict(redactor.originals), tuple(redactor.findings))


class Redactor:
    """Redacts several texts with one set of placeholders (a person named in the message and
    in a document is `<PERSON_1>` in both), and restores an answer to any of them."""

    def __init__(self, *, kinds: Iterable[Kind] | None = None) -> None:
        self._kinds = set(kinds) if kinds is not None else set(Kind)
        self._placeholders: dict[tuple[Kind, str], str] = {}
        self._counts: dict[Kind, int] = {}
        self._seen: list[str] = []
        self.originals: dict[str, str] = {}
        self.findings: list[Finding] = []

    @property
    def count(self) -> int:
        """How many data were replaced so far (what the audit log records)."""
        return len(self.findings)

    def redact(self, text: str) -> str:
        """`text` with its personal data replaced."""
        self._seen.append(text)
        findings = [f for f in find_pii(text) if f.kind in self._kinds]
        pieces, cursor = [], 0
        for finding in findings:
            pieces += [text[cursor : finding.start], self._placeholder(finding)]
            cursor = finding.end
        pieces.append(text[cursor:])
        self.findings += findings
        return "".join(pieces)

    def restore(self, text: str) -> str:
        """`text` with the placeholders this redactor made put back."""
        return _PLACEHOLDER.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    def _placeholder(self, finding: Finding) -> str:
        key = (finding.kind, finding.value)
        if key not in self._placeholders:
            placeholder = ""
            while not placeholder or any(placeholder in seen for seen in self._seen):
                self._counts[finding.kind] = self._counts.get(finding.kind, 0) + 1
                placeholder = f"<{finding.kind.value}_{self._counts[finding.kind]}>"
            self._placeholders[key] = placeholder
            self.originals[placeholder] = finding.value
        return self._placeholders[key]


_PLACEHOLDER: Final = re.compile(r"<([A-Z_]+_\d+)>")


def restore(text: str, redaction: Redaction) -> str:
    """`text` (an answer to the redacted text) with the placeholders' originals put back;
    a placeholder the redaction did not make is left as it is."""
    return _PLACEHOLDER.sub(lambda m: redaction.originals.get(m.group(0), m.group(0)), text)
