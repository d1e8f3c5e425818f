"""Generate link_tracking_runtime/bot_patterns.py, the contract's compiled bot patterns.

The contract stays dependency-free: its User-Agent patterns are generated here from two
maintained public sources and committed (``make bot-patterns``); CI regenerates them and fails
when the committed module differs (``make check-bot-patterns``, like the lock).

- ``crawler-user-agents`` (PyPI, pinned in pyproject.toml's dev extra, MIT): one pattern per
  known client, each tagged. Its tags give our kinds: ``social-preview`` is ``preview``,
  ``scanner`` and ``browser-automation`` are ``scanner``, ``http-library`` is ``script``,
  every other tag ``crawler``. Its patterns are case-sensitive, as upstream matches them.
- ``isbot`` (npm, Unlicense): one general, case-insensitive pattern list that recognises
  automated clients the per-client list has not named yet (``bots?``, ``crawl``, ``http``,
  a URL or an e-mail address in the header, ...). Its list is kept in
  scripts/bot_sources/isbot.json with the version it came from; ``--isbot-tarball`` refreshes
  it from ``npm pack isbot@VERSION``. Its matches are ``crawler`` unless a kind above applies.

Literal patterns (most of crawler-user-agents) are merged into one trie-shaped expression per
kind, so a first sight of a User-Agent costs one scan per kind rather than one per pattern
(benchmarks/bots_bench.py). A pattern Python cannot compile fails the generator with the
pattern and the reason; the few JavaScript-only constructs isbot uses are rewritten by the
table below, and a rewrite that no longer applies fails too (upstream changed: look again).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path
from re import _constants, _parser  # type: ignore[attr-defined]  # the parser re itself uses

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "link_tracking_runtime" / "bot_patterns.py"
ISBOT = ROOT / "scripts" / "bot_sources" / "isbot.json"

KINDS = ("preview", "scanner", "script", "crawler")
#: crawler-user-agents tag -> our kind; the first kind (in KINDS order) of a pattern's tags wins.
TAG_KINDS = {
    "social-preview": "preview",
    "scanner": "scanner",
    "browser-automation": "scanner",
    "http-library": "script",
}
#: isbot patterns in JavaScript syntax Python's ``re`` rejects -> the same language in Python.
JS_REWRITES = {
    # A variable-width look-behind: two fixed-width ones say the same.
    "(?<! channel/|google/)google(?!(?:wv|app|/google| pixel))": (
        "(?<! channel/)(?<!google/)google(?!(?:wv|app|/google| pixel))"
    ),
    # JavaScript reads "\d-." in a class as three characters; Python reads it as a bad range.
    r"^mozilla/\d\.\d\s\((?:compatible;)?(?:\s?[\w\d-.]+[\s/]\d+\.\d+)?\)$": (
        r"^mozilla/\d\.\d\s\((?:compatible;)?(?:\s?[\w\d.-]+[\s/]\d+\.\d+)?\)$"
    ),
}
_LITERAL = re.compile(r"(?:[^\\\[\]().*+?{}|^$]|\\[^A-Za-z0-9])+")
#: Characters other than letters and digits that are plain literals at a pattern's start.
_PLAIN = " -/_:;@,!&=%~'\"<>#"


class PatternError(Exception):
    """A source pattern that cannot be compiled (the message names it and says why)."""


def _compile(pattern: str, flags: int, source: str) -> None:
    try:
        re.compile(pattern, flags)
    except re.error as error:
        raise PatternError(f"{source}: pattern {pattern!r} does not compile: {error}") from None


def _trie(words: Iterable[str]) -> str:
    """One expression matching any of ``words`` (literal strings), shaped as a trie."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        if "" in node:
            # A word ends here: it matches already, whatever follows.
            return ""
        branches = []
        for char in sorted(key for key in node if key):
            child = node[char]
            # Compress a chain of single children into one literal run.
            run = re.escape(char)
            while len(child) == 1 and "" not in child:
                (next_char,) = child
                run += re.escape(next_char)
                child = child[next_char]
            branches.append(run + emit(child))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


def _kind_of(tags: list[str]) -> str:
    kinds = {TAG_KINDS.get(tag, "crawler") for tag in tags} or {"crawler"}
    return next(kind for kind in KINDS if kind in kinds)


def _first_literal(pattern: str) -> str | None:
    """The pattern's first character when the pattern is a sequence that starts with it as a
    plain literal (no escape, no quantifier on it), else ``None``."""
    items = _parser.parse(pattern).data
    if not items or items[0][0] is not _constants.LITERAL:
        return None
    char = chr(items[0][1])
    return char if pattern[0] == char and (char.isalnum() or char in _PLAIN) else None


def _anchored(pattern: str) -> bool:
    """Whether the pattern is a sequence that starts with ``^``."""
    items = _parser.parse(pattern).data
    return bool(items) and pattern[0] == "^" and items[0][0] is _constants.AT


def _expression(patterns: list[str]) -> str:
    """One expression matching wherever any of ``patterns`` does, shaped for ``re``'s search:
    the literal patterns as one trie, the patterns anchored at the start under one ``^`` (tried
    at position 0 only), the patterns that start with a plain character grouped by it (one
    cheap test at each position rather than one per pattern), then the rest."""
    literals = []
    anchored = []
    by_first: dict[str, list[str]] = {}
    others = []
    for pattern in patterns:
        if _LITERAL.fullmatch(pattern):
            literals.append(re.sub(r"\\(.)", r"\1", pattern))
        elif _anchored(pattern):
            anchored.append(f"(?:{pattern[1:]})")
        elif (first := _first_literal(pattern)) is not None:
            by_first.setdefault(first, []).append(f"(?:{pattern[1:]})")
        else:
            others.append(f"(?:{pattern})")
    parts = [_trie(literals)] if literals else []
    if anchored:
        parts.append("^(?:" + "|".join(anchored) + ")")
    parts.extend(
        re.escape(first) + "(?:" + "|".join(rests) + ")"
        for first, rests in sorted(by_first.items())
    )
    parts.extend(others)
    return "|".join(parts)


def crawler_user_agents() -> tuple[str, dict[str, str]]:
    """The installed crawler-user-agents' version and its patterns as one expression a kind."""
    import crawleruseragents  # the dev extra's pinned package

    version = importlib.metadata.version("crawler-user-agents")
    by_kind: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA:
        pattern = entry["pattern"]
        _compile(pattern, 0, f"crawler-user-agents {version}")
        by_kind[_kind_of(entry.get("tags", []))].append(pattern)
    expressions = {kind: _expression(patterns) for kind, patterns in by_kind.items()}
    for kind, expression in expressions.items():
        _compile(expression, 0, f"crawler-user-agents {version} ({kind}, merged)")
    return version, expressions


def isbot(path: Path = ISBOT) -> tuple[str, str]:
    """isbot's version and its patterns (rewritten where needed) as one expression."""
    source = json.loads(path.read_text(encoding="utf-8"))
    version = source["version"]
    patterns = []
    for pattern in source["patterns"]:
        rewritten = JS_REWRITES.get(pattern, pattern)
        if re.search(r"\\[A-Z]", rewritten):
            # bots.py matches isbot lower-cased: \S, \W, \D, \B would change meaning.
            raise PatternError(f"isbot {version}: pattern {rewritten!r} has an upper-case escape")
        _compile(rewritten, re.IGNORECASE, f"isbot {version}")
        patterns.append(rewritten)
    unused = set(JS_REWRITES) - set(source["patterns"])
    if unused:
        raise PatternError(
            f"isbot {version}: the rewrites of {sorted(unused)!r} no longer apply: look at "
            "what upstream changed and update JS_REWRITES in scripts/bot_patterns.py"
        )
    expression = _expression(patterns)
    _compile(expression, re.IGNORECASE, f"isbot {version} (merged)")
    return version, expression


def _chunks(text: str, size: int = 80) -> list[str]:
    return [text[index : index + size] for index in range(0, len(text), size)]


def render() -> str:
    """The generated module's source, formatted as ``ruff format`` leaves it."""
    cua_version, expressions = crawler_user_agents()
    isbot_version, any_bot = isbot()
    lines = [
        '"""Generated by ``make bot-patterns`` (scripts/bot_patterns.py): do not edit.',
        "",
        f"From crawler-user-agents {cua_version} (PyPI, MIT) and isbot {isbot_version} (npm,",
        "Unlicense). :mod:`.bots` compiles these once; see it for what each expression means.",
        '"""',
        "",
        "from typing import Final",
        "",
        "#: (package, version) of each source these patterns were generated from.",
        f'SOURCES: Final = (("crawler-user-agents", "{cua_version}"), ("isbot", "{isbot_version}"))',
        "",
    ]
    described = {
        "preview": "crawler-user-agents' social-preview clients (case-sensitive).",
        "scanner": "crawler-user-agents' scanners and browser automation (case-sensitive).",
        "script": "crawler-user-agents' HTTP libraries (case-sensitive).",
        "crawler": "Every other crawler-user-agents client (case-sensitive).",
    }
    for kind in KINDS:
        lines.append(f"#: {described[kind]}")
        lines.append(f"{kind.upper()}: Final = (")
        lines.extend(f"    {json.dumps(chunk)}" for chunk in _chunks(expressions[kind]))
        lines.append(")")
    lines.append("#: isbot's general patterns: any automated client (case-insensitive).")
    lines.append("ANY: Final = (")
    lines.extend(f"    {json.dumps(chunk)}" for chunk in _chunks(any_bot))
    lines.append(")")
    text = "\n".join(lines) + "\n"
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUTPUT), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return formatted.stdout


def refresh_isbot(tarball: Path) -> None:
    """Replace scripts/bot_sources/isbot.json with the list ``npm pack isbot@X`` shipped."""
    with tarfile.open(tarball) as archive:
        package = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
        index = archive.extractfile("package/index.js").read().decode("utf-8")  # type: ignore[union-attr]
    match = re.search(r"var patterns_default = (\[.*?\n\]);", index, re.DOTALL)
    if match is None:
        raise PatternError(f"{tarball}: no patterns list in package/index.js")
    current = json.loads(ISBOT.read_text(encoding="utf-8"))
    current.update(
        version=package["version"],
        license=package["license"],
        note=current["note"].replace(current["version"], package["version"]),
        patterns=json.loads(match.group(1)),
    )
    ISBOT.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the module is stale")
    parser.add_argument("--isbot-tarball", type=Path, help="refresh isbot.json from npm pack")
    args = parser.parse_args(argv)
    try:
        if args.isbot_tarball:
            refresh_isbot(args.isbot_tarball)
        text = render()
    except PatternError as error:
        print(f"bot-patterns: {error}", file=sys.stderr)
        return 1
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(
                f"bot-patterns: {OUTPUT.relative_to(ROOT)} is out of date with its sources: "
                "run make bot-patterns and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"bot-patterns: wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
