// Added by Nil: lib.rs ends with `mod nil_platform;`. The export the runner calls; the
// function's `handle` must be `pub fn handle(event: serde_json::Value) -> Result<serde_json::Value, String>`.
#[export_name = "handle"]
extern "C" fn nil_handle(ptr: *const u8, len: u32) -> u64 {
    nil::run(ptr, len, super::handle)
}
