"""Languages are plugins with one registry (common.abi.ABI_BY_LANGUAGE): the gateway's
list, the builder's toolchains, the runner's adapters and the guide follow it."""

import re

import pytest

from builder.toolchains import all_toolchains
from common.abi import ABI_BY_LANGUAGE
from common.contracts import LANGUAGES
from runner.abis import ADAPTER_BY_ABI
from tools.guide import GUIDE, examples


@pytest.fixture(scope="module")
def toolchains():
    found = all_toolchains()
    yield found
    for toolchain in found.values():
        toolchain.close()


def test_every_language_has_a_toolchain_and_a_runner_adapter(toolchains):
    assert LANGUAGES == tuple(ABI_BY_LANGUAGE)
    assert set(toolchains) == set(LANGUAGES)
    assert {abi.name for abi in ABI_BY_LANGUAGE.values()} == set(ADAPTER_BY_ABI)
    for abi in ABI_BY_LANGUAGE.values():
        assert ADAPTER_BY_ABI[abi.name].kind == abi.kind


def test_every_toolchain_declares_its_source_file_and_comment_syntax(toolchains):
    for toolchain in toolchains.values():
        assert re.fullmatch(r"(function|lib)\.\w+", toolchain.entry_name), toolchain.language
        assert toolchain.comment and not toolchain.comment.isalnum(), toolchain.language


def test_the_guide_has_a_row_and_examples_for_every_language(toolchains):
    rows = {}
    for line in GUIDE.read_text().splitlines():
        if match := re.match(r"\| `(\w+)` \| (.*?) \|", line):
            rows[match.group(1)] = match.group(2)
    for language, toolchain in toolchains.items():
        assert f"`{toolchain.entry_name}`" in rows[language], language
    assert {e["language"] for e in examples()} == set(LANGUAGES)
