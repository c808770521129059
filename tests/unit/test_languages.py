"""Languages are plugins: the gateway's list, the ABIs, the builder's toolchains and the
runner's adapters name the same languages."""

from builder.toolchains import all_toolchains
from common.abi import ABI_BY_LANGUAGE
from common.contracts import LANGUAGES
from runner.abis import ADAPTER_BY_ABI


def test_every_language_has_an_abi_a_toolchain_and_a_runner_adapter():
    toolchains = all_toolchains()
    try:
        assert set(LANGUAGES) == set(ABI_BY_LANGUAGE) == set(toolchains)
    finally:
        for toolchain in toolchains.values():
            toolchain.close()
    assert {abi.name for abi in ABI_BY_LANGUAGE.values()} == set(ADAPTER_BY_ABI)
    for abi in ABI_BY_LANGUAGE.values():
        assert ADAPTER_BY_ABI[abi.name].kind == abi.kind


def test_the_five_languages_of_the_platform():
    assert sorted(LANGUAGES) == ["assemblyscript", "c", "python", "wat", "zig"]
