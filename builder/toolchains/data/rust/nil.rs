// Nil's runtime for Rust functions, built once per builder into the shared target
// directory together with serde and serde_json (deps.toml): every build links it
// instead of compiling it again. It exports the raw UTF-8 ABI's `alloc`; `run` is what
// the function's exported `handle` (nil_platform.rs) calls: it decodes the input into a
// serde_json::Value, calls the function, and encodes what it returns.
//
// A panic prints `panic: <message> (at lib.rs:line:col)` on stderr and traps; an `Err`
// prints `error: <message>` and traps: either is a FAILED execution whose errorMessage
// quotes that line. println!/eprintln! output is the execution's logs.

use std::io::Write;

pub use serde_json::Value;

/// Where the runner writes the input. Each call runs in a fresh instance: nothing is freed.
#[no_mangle]
pub extern "C" fn alloc(len: u32) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len as usize + 1);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Decode the input at `ptr`, call `handler`, return `(outPtr << 32) | outLen`.
pub fn run(ptr: *const u8, len: u32, handler: fn(Value) -> Result<Value, String>) -> u64 {
    std::panic::set_hook(Box::new(report_panic));
    let input = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
    let event: Value = match serde_json::from_slice(input) {
        Ok(value) => value,
        Err(error) => fail(format!("the input is not JSON: {}", error)),
    };
    match handler(event) {
        Ok(value) => {
            let text = match serde_json::to_vec(&value) {
                Ok(text) => text,
                Err(error) => fail(format!("the output cannot be encoded: {}", error)),
            };
            let _ = std::io::stdout().flush();
            let text: &'static mut [u8] = text.leak();
            ((text.as_ptr() as u64) << 32) | text.len() as u64
        }
        Err(message) => fail(message),
    }
}

fn report_panic(info: &std::panic::PanicInfo) {
    let payload = info.payload();
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panicked".to_string()
    };
    let _ = std::io::stdout().flush();
    match info.location() {
        Some(at) => eprintln!("panic: {} (at {}:{}:{})", message, at.file(), at.line(), at.column()),
        None => eprintln!("panic: {}", message),
    }
}

fn fail(message: String) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("error: {}", message);
    std::process::abort()
}
