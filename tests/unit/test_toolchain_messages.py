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


def test_rust_messages_lose_rustc_s_footer_and_the_shared_directory():
    from builder.toolchains.rust import toolchains as rust_toolchains

    settings = Settings(rust_dir="/srv/nil-rust", sandbox="off")  # creates nothing
    rust = rust_toolchains(settings)[0]
    raw = (
        "error[E0425]: cannot find value `x` in this scope\n --> lib.rs:2:8\n\n"
        "note: defined here\n --> /srv/nil-rust/crate/nil.rs:25:8\n\n"
        "error: aborting due to previous error\n\n"
        "For more information about this error, try `rustc --explain E0425`.\n"
    )
    assert rust.clean_message(raw) == (
        "error[E0425]: cannot find value `x` in this scope\n --> lib.rs:2:8\n\n"
        "note: defined here\n --> rust-deps/crate/nil.rs:25:8"
    )


def test_without_debian_s_rust_packages_a_build_fails_naming_them(monkeypatch):
    from builder.toolchains import rust

    monkeypatch.setattr(rust, "missing_packages", lambda: ["libstd-rust-dev-wasm32", "lld-14"])
    toolchain = rust.toolchains(Settings(rust_dir="/nonexistent/nil-rust"))[0]
    toolchain.warm_up(10)  # nothing to warm: no error either
    output = toolchain.compile("pub fn handle() {}\n", timeout=10)
    assert not output.ok
    assert output.error.startswith(
        "Rust is not available on this builder: it needs Debian's packages"
        " libstd-rust-dev-wasm32, lld-14 (apt-get install --no-install-recommends rustc cargo"
    )
    assert toolchain.pids() == []  # no compiler was started
