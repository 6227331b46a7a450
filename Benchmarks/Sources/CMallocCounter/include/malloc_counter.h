// Counts heap allocations of the whole process by interposing glibc's allocator entry
// points (an executable's definitions win over libc's). For bench-codec only.
#pragma once
#include <stdint.h>

/// Allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) so far.
uint64_t bench_malloc_count(void);
