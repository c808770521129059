//! nil.zig — the raw UTF-8 ABI for Zig functions on Nil. Import it and export `handle`:
//!
//!     const nil = @import("nil.zig");
//!     comptime { _ = nil; } // exports alloc
//!
//!     export fn handle(ptr: [*]const u8, len: u32) u64 {
//!         const input = nil.input(ptr, len);
//!         return nil.output("{\"ok\":true}");
//!     }
//!
//! The runner calls alloc(len), writes the input (JSON text) there, then calls handle.
//! Return nil.output(bytes) with JSON text that stays valid after handle returns
//! (a literal, or memory from nil.allocator). std.debug.print and writes to stdout or
//! stderr end up in the execution's logs.
const std = @import("std");

/// Every call gets a fresh instance, so nothing allocated here outlives the call.
pub const allocator = std.heap.wasm_allocator;

export fn alloc(len: u32) ?[*]u8 {
    const buf = allocator.alloc(u8, len + 1) catch return null;
    buf[len] = 0;
    return buf.ptr;
}

pub fn input(ptr: [*]const u8, len: u32) []const u8 {
    return ptr[0..len];
}

pub fn output(bytes: []const u8) u64 {
    return (@as(u64, @intFromPtr(bytes.ptr)) << 32) | @as(u64, bytes.len);
}
