from builder.settings import Settings
from builder.toolchains.assemblyscript import AssemblyScript
from builder.toolchains.assemblyscript import toolchains as assemblyscript_toolchains
from builder.toolchains.base import TOOLCHAIN_DIR
from builder.toolchains.wat import toolchains as wat_toolchains


def assemblyscript() -> AssemblyScript:
    return assemblyscript_toolchains(Settings())[0]


def wat():
    return wat_toolchains(Settings())[0]


def test_assemblyscript_messages_lose_colours_paths_and_the_failure_footer():
    raw = (
        f"\x1b[31mERROR\x1b[0m TS2322: bad type\n   └─ in {TOOLCHAIN_DIR}/function.ts(2,16)\n\n"
        "FAILURE 1 compile error(s)\n"
    )
    assert (
        assemblyscript().clean_message(raw) == "ERROR TS2322: bad type\n   └─ in function.ts(2,16)"
    )


def test_wat_messages_name_the_source_file():
    assert wat().clean_message("unknown operator\n --> <anon>:3:3") == (
        "unknown operator\n --> function.wat:3:3"
    )


def test_empty_message_still_says_something():
    assert wat().clean_message("   ") == "compilation failed"
