"""The vocabulary of answer letters: what a letter token is, and the phrases that commit to one.

Every pattern here captures one letter in the group ``L`` and knows nothing about labels or
precedence; ``choice.py`` decides which capture wins. Phrases capture any letter A-Z so that an
explicit "The answer is E" on a four-option question reads as a wrong answer, not as a cue to go
looking for some other letter in the reasoning.

Peers' bugs these patterns are shaped against: OpenCompass's ``first_capital_postprocess`` reads
"As an AI ..." as A; EvalScope reads "A is wrong, the answer is C" as A; lm-evaluation-harness's
default regex misses "答案：C". Hence letters are standalone tokens, explicit phrases come in both
languages, and negated or eliminated letters ("not A", "A is wrong", "A项错误") are dropped.
"""

from __future__ import annotations

import re

__all__ = [
    "CORRECTION", "EXPLICIT", "HEDGE_AFTER", "LEAD", "LETTER", "LETTER_LIST", "LISTING_AFTER", "OPTION_WORD",
    "REJECT_AFTER", "REJECT_BEFORE", "TRAILING_TEXT", "follows_as_word",
]

# A single letter that is not part of a word, a contraction ("I'd", "don't"), an abbreviation
# ("e.g.", "U.S.A"), a hyphenated word ("X-ray"), a name like "C++" / "C#", or the first of a
# name's initials ("A. J. P. Taylor": three in a row are a name, "A. J. Smith" may be option A).
# CJK characters may touch it ("选B", "B选项"), because Chinese has no spaces.
LETTER = (
    r"(?<![A-Za-z0-9_])(?<![A-Za-z0-9_]['’])(?<![A-Za-z]\.)(?<!-)"
    r"(?P<L>[A-Za-z])"
    r"(?![A-Za-z0-9_+#])(?!['’][A-Za-z])(?!-[A-Za-z])(?!\.[a-z])(?!\.[ \t][A-Z]\.[ \t][A-Z]\.)"
)

# What may stand between a phrase and its letter: spaces, colons, brackets, quotes, Markdown
# leftovers, and a repeated noun ("the answer is option B", "答案是选项B").
_OPEN = r"[\s:=\-–—>\(\[【「《\"'“‘$]*+"
_SEP = rf"{_OPEN}(?:(?:option|choice|letter|选项)\s*+[:=]?{_OPEN})?"
_VERB = r"(?:is|would\s+be|should\s+be|must\s+be|will\s+be|=|:|-)"
_ADVERB = (
    r"(?:(?:therefore|thus|hence|likely|probably|clearly|definitely|obviously|certainly|indeed|then|"
    r"simply|actually|most\s+likely|still|also)[\s,]++)?"
)
_CJK_FILLER = r"(?:(?![不非没否])[\u4e00-\u9fff]){0,6}?"

_ENGLISH = [
    # "The answer is B", "Answer: (C)", "the correct answer is: B", "<answer>D</answer>", "answer B"
    rf"\b(?:answer|ans)\b(?:\s+to\s+(?:this|the)\s+question)?\s*+(?:{_VERB}\s*+)?{_ADVERB}{_SEP}{LETTER}",
    # "The correct option is D", "my choice is B" (a bare "Option A" in reasoning is not a verdict)
    rf"\b(?:option|choice|letter|pick|selection)\b\s*+{_VERB}\s*+{_ADVERB}{_SEP}{LETTER}",
    # "choose B", "I'd go with C" (but not "I would not choose A")
    r"(?<!\bnot\s)(?<!n't\s)(?<!never\s)"
    rf"\b(?:choose|chose|pick|select|go\s+with|go\s+for|opt\s+for|going\s+with)\s+{_SEP}{LETTER}",
    # "I think A", "I'd say it's C", "I believe the answer is B"
    rf"\bI(?:'d|’d|\s+would|\s+will|'ll)?\s+(?:think|believe|guess|say|feel|reckon)\s+"
    rf"(?:(?:that\s+)?(?:it\s+is|it's|it’s|it\s+would\s+be|it\s+should\s+be|the\s+answer\s+is)\s+)?{_SEP}{LETTER}",
    # "Option B is correct", "D is the most appropriate", "(C) is the right answer"
    rf"{LETTER}[\)\]】]?[ \t]*+(?:is|seems|appears)\s+(?:to\s+be\s+)?(?:the\s+)?(?:most\s+|only\s+|best\s+)?"
    r"(?:correct|right|best|accurate|appropriate|suitable|answer)\b",
    # "Therefore, B.", "So (C)", "So D. <D's text>", "Result: D", "Final: D" — a connective or a
    # conclusion's heading followed by a letter that ends the sentence (or the option's text follows)
    rf"\b(?:so|therefore|thus|hence|finally|in\s+conclusion|result|final|conclusion)\b[\s,:]*+{_SEP}{LETTER}"
    r"(?=[ \t)\]】*]*+(?:[.!;。！\n]|$))",
    # LaTeX: "\boxed{C}", "\boxed{\text{C}}"
    rf"\\boxed\{{\s*+(?:\\text(?:bf)?\{{\s*+)?{LETTER}",
]

_CHINESE = [
    # "答案：B", "答案是 B", "正确答案是C", "所以答案是（C）", "答案应该是选项B", "答：B"
    rf"答案?{_CJK_FILLER}[\s:=]*+{_SEP}{LETTER}",
    # "故选：D", "选B", "应选A", "选择C" (not "选项", "不选A")
    rf"(?<![不没])[选選](?![项項])(?:择|擇)?(?:的是|是|为)?[\s:=]*+{_SEP}{LETTER}",
    # "正确的是C", "正确选项为B", "不正确的是A" (the question asked for the wrong statement)
    r"(?:正确|错误|不正确|符合题意|不符合题意)的?(?:选项|答案|一项|项|说法)?"
    rf"(?:是|为|:)[\s:=]*+{_SEP}{LETTER}",
    # "选项B正确", "C项正确", "B是正确的", "A对"
    rf"{LETTER}[ \t]*+(?:选项|項|项)?[ \t]*+(?:是|为)?[ \t]*+"
    r"(?:正确|对(?!于)|符合题意|最佳|最合适|当选|为答案|是答案)",
    # "B选项。" — the option named as the whole conclusion
    rf"{LETTER}[ \t]*+(?:选项|項|项)(?=\s*+(?:[。.!！]|$))",
    # Conclusion markers: "所以D. …", "所以选出选项：D", "因此，C", "结果：D", "最后：D", "综上所述，B",
    # "选出选项：A. …" (what a conclusion opens with, then the letter)
    r"(?:所以|因此|因而|故而|综上所述|综上|总之|最后|最终|结果|结论|选出)[\s,，:]*+"
    rf"(?:(?:选出|选择|选)?(?:的)?(?:正确)?(?:选项|答案)?(?:是|为|应为|应该是)?)[\s:=]*+{_SEP}{LETTER}",
]

# A phrase that starts with its letter ("C项正确", "B is correct") stays on the letter's line: across
# a line break, "K\n正确答案是A" is a K and then an answer, not "K is correct".
EXPLICIT: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in _ENGLISH + _CHINESE)

# A letter the text itself rules out: "A is wrong", "B) incorrect", "C项错误", "D不对".
REJECT_AFTER = re.compile(
    r"[\)\]】]?[ \t]*+[:\-]?[ \t]*+(?:"
    r"(?:is|are|was|seems|looks|appears)\s++(?:to\s++be\s++)?"
    r"(?:(?:clearly|definitely|also|obviously|probably|likely)\s++)?"
    r"(?:wrong|incorrect|false|not\b|untrue|invalid|eliminated|ruled\s+out)"
    r"|isn't|isn’t|wasn't|can't|cannot|wrong\b|incorrect\b|not\s+(?:correct|right|true)\b"
    r"|(?:选项|項|项)?\s*+(?:的说法|说法)?\s*+(?:是|为)?\s*+(?:错|不|非|有误|排除|×))",
    re.IGNORECASE,
)
# ... or that a negation in front of it rules out: "not A", "neither A nor B", "rather than C", "排除D".
REJECT_BEFORE = re.compile(
    r"(?:\b(?:not|never|exclude|excluding|eliminate|eliminating|except|neither|nor|than|instead\s+of)|n't|n’t"
    r"|不是|不选|排除|除了|除|非)[ \t]*+(?:(?:option|choice|选项)[ \t]*+)?[\(\[【「\"'“]?[ \t]*+$",
    re.IGNORECASE,
)

# A reply that opens with its letter: "B", "B. Paris", "(B)", "**B**" (Markdown already removed), "Option B".
LEAD = re.compile(
    rf"\A[\s>#_`\"'“(\[【]*+(?:(?:option|choice|选项)[ \t]*+[:：]?[ \t]*+)?[\(\[【]?[ \t]*+{LETTER}", re.IGNORECASE
)
# ... unless the opening letter is one of several: "A and C", "A, B", "A/B", "A和C".
LISTING_AFTER = re.compile(
    r"[)\]】]*+[ \t]*+(?:,[ \t]*+(?:[A-Za-z](?![A-Za-z])|and\b|or\b)|and\b|or\b|&|/|和|或|与|及|、)", re.IGNORECASE
)
# The word a lettered line may put before its letter and still restate an option: "Option D. Oslo", "选项D. …".
OPTION_WORD = re.compile(r"(?:option|choice|选项|選項)", re.IGNORECASE)
# A text that lists letters rather than naming an option: "A.B.C.D.E", "A, B, C".
LETTER_LIST = re.compile(r"[A-Z](?:[ \t]*[.,、/][ \t]*[A-Z](?![A-Za-z])){2,}")
# A commitment the reply itself hedges: "the answer is C?".
HEDGE_AFTER = re.compile(r"[ \t)\]】]*+[?？]")
# A correction: what the reply commits to after it replaces what came before ("Actually, D").
CORRECTION = re.compile(
    r"\b(?:actually|correction|on\s+second\s+thought|I\s+mean|wait(?=[,.!:]))\b|实际上|更正|等等", re.IGNORECASE
)
# The option text that may follow a letter on its line: "D. 43", "C) Paris", "A: ...".
TRAILING_TEXT = re.compile(r"[)\]】]?[ \t]*+[.:：、．,，)]?[ \t]*+(?P<text>[^\n]*)")

# Words that can follow the letter A but never the article "a" ("A is wrong", "A because ..."), and
# words that can follow the letter I but never the pronoun ("I and J", "I is correct").
_AFTER_A = frozenset(
    "and or nor but is was are were be seems seem looks appears would could should might must can will may does did "
    "has had because since as which that with for from in on at by to of vs versus then too also only alone here "
    "there instead again not isn't wasn't doesn't remains matches fits describes states says gives".split()
)
_AFTER_I = frozenset("and or nor is was seems looks appears vs versus because since".split())
_NEXT_WORD = re.compile(r"[ \t]+([A-Za-z0-9][A-Za-z0-9'’]*)")  # "A 15-year-old": the article too


def follows_as_word(text: str, letter: str, end: int) -> bool:
    """True when ``letter`` (just before ``end``) is the English article "A"/"a" or pronoun "I".

    "A cat is an animal", "A 15-year-old ..." and "I think" are words; "A", "A.", "A)", "A:",
    "A\\n", "A and C", "A is wrong" and "A because ..." are letters: an article is never followed
    by punctuation, a line break, a conjunction or a verb.
    """
    if letter.upper() not in "AI":
        return False
    following = _NEXT_WORD.match(text, end)
    if following is None:
        return False
    allowed = _AFTER_A if letter.upper() == "A" else _AFTER_I
    return following.group(1).lower() not in allowed
