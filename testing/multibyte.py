"""Texts in the scripts and characters that make payloads bigger than their length (issue 21 §2): the
tests of every payload producer use them, so each is tried with what costs the most where it goes."""
from __future__ import annotations

# A sample per kind, repeated to the size asked for. "escapes" is what JSON escapes (quotes,
# backslashes, control characters, the separators Newtonsoft also escapes); "emoji" has joined
# sequences, skin tones, flags and combining marks, which a cut must not split.
SAMPLES = {
    "ascii": "The quick brown fox jumps over the lazy dog. ",
    "japanese": "日本語のウェブページは、多くの文字がマルチバイトです。",
    "cyrillic": "Съешь же ещё этих мягких французских булок. ",
    "emoji": "👩‍👩‍👧‍👦 👍🏽 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🇯🇵 café ",
    "escapes": 'say "hi" \\ C:\\path\n\ttab\r\n\x01\x1f\x7f \u0085\u2028\u2029 ',
}
KINDS = tuple(SAMPLES)


def text(kind: str, utf8_bytes: int) -> str:
    """About `utf8_bytes` of UTF-8 text of one kind (whole samples)."""
    sample = SAMPLES[kind]
    return sample * max(1, utf8_bytes // len(sample.encode()))
