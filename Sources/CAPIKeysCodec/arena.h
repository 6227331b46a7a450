// A bump allocator for protobuf-c: messages unpacked to be read and then dropped whole
// (frame envelopes, request messages) and messages built to be encoded (akc_builder). One
// chunk instead of a malloc per struct, string and array, and one free instead of
// free_unpacked's walk; small chunks are reused per thread (arena.c). It keeps the budget of
// budget.h: past `limit` bytes requested, allocation fails and `exceeded` is set, so a
// hostile frame cannot make unpacking allocate without bound.
#ifndef AKC_ARENA_H
#define AKC_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

typedef struct akc_arena_chunk {
    struct akc_arena_chunk *next;
    size_t capacity;
    size_t used;
    _Alignas(16) unsigned char bytes[];
} akc_arena_chunk;

typedef struct akc_arena {
    akc_arena_chunk *chunks;
    size_t requested;
    size_t limit;
    int exceeded;
} akc_arena;

enum { AKC_ARENA_ALIGNMENT = 16 };

// An arena whose first chunk holds at least `first_capacity` bytes; NULL when out of memory.
akc_arena *akc_arena_new(size_t first_capacity, size_t limit);
void akc_arena_free(akc_arena *arena);
// protobuf-c's alloc callback (data is the arena); NULL past the budget or out of memory.
void *akc_arena_alloc(void *data, size_t size);

// Memory goes back all at once, in akc_arena_free.
static void akc_arena_ignore_free(void *data, void *pointer) {
    (void)data;
    (void)pointer;
}

static inline ProtobufCAllocator akc_arena_allocator(akc_arena *arena) {
    ProtobufCAllocator allocator = {akc_arena_alloc, akc_arena_ignore_free, arena};
    return allocator;
}

// What a message of `length` bytes usually needs unpacked: its C structs (tens of bytes
// each) and copies of its strings and bytes.
static inline size_t akc_arena_first_capacity(size_t length) {
    size_t capacity = 384 + 2 * length;
    return capacity < 16384 ? capacity : 16384;
}

#endif
