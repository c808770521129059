/*
 * nil.h — the raw UTF-8 ABI for C functions on Nil. Include it once, in the file that
 * defines handle():
 *
 *     #include "nil.h"
 *
 *     NIL_HANDLE uint64_t handle(const char *input, uint32_t len) {
 *         return nil_output_str("{\"ok\":true}");
 *     }
 *
 * The runner calls alloc(len) and writes the input (JSON text, UTF-8) there, then calls
 * handle(input, len). The input is also NUL-terminated, for the string functions.
 * Return nil_output(data, length) with JSON text; the bytes must stay valid after
 * handle() returns (static, or malloc'ed and never freed: every call gets a fresh
 * instance, so nothing leaks between calls). printf and fprintf(stderr) end up in the
 * execution's logs.
 */
#ifndef NIL_H
#define NIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL_EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define NIL_HANDLE NIL_EXPORT("handle")

NIL_EXPORT("alloc") void *nil_alloc(uint32_t len) { return calloc((size_t)len + 1, 1); }

/* The packed result of handle(): (pointer << 32) | length. Flushes stdio first, so
   everything printed reaches the execution's logs. */
static inline uint64_t nil_output(const char *data, size_t len) {
    fflush(NULL);
    return ((uint64_t)(uintptr_t)data << 32) | (uint32_t)len;
}

static inline uint64_t nil_output_str(const char *text) { return nil_output(text, strlen(text)); }

#endif
