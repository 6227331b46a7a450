// A bump allocator for protobuf-c's unpack of messages that are read and then dropped
// whole (frame envelopes, request messages): one malloc for a Verify request's dozen
// allocations, and one free instead of free_unpacked's walk. It keeps the budget of
// budget.h: past `limit` bytes requested, allocation fails and `exceeded` is set, so a
// hostile frame cannot make unpacking allocate without bound.
#ifndef AKC_ARENA_H
#define AKC_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

static akc_arena_chunk *akc_arena_chunk_new(size_t capacity) {
    akc_arena_chunk *chunk = malloc(sizeof *chunk + capacity);
    if (!chunk) return NULL;
    chunk->next = NULL;
    chunk->capacity = capacity;
    chunk->used = 0;
    return chunk;
}

// The arena lives at the start of its first chunk: one malloc when `first_capacity` is
// enough for everything.
static akc_arena *akc_arena_new(size_t first_capacity, size_t limit) {
    size_t header = (sizeof(akc_arena) + AKC_ARENA_ALIGNMENT - 1) & ~(size_t)(AKC_ARENA_ALIGNMENT - 1);
    akc_arena_chunk *chunk = akc_arena_chunk_new(header + first_capacity);
    if (!chunk) return NULL;
    akc_arena *arena = (akc_arena *)chunk->bytes;
    chunk->used = header;
    arena->chunks = chunk;
    arena->requested = 0;
    arena->limit = limit;
    arena->exceeded = 0;
    return arena;
}

static void akc_arena_free(akc_arena *arena) {
    if (!arena) return;
    akc_arena_chunk *chunk = arena->chunks;  // the arena itself is in the last chunk of the list
    while (chunk) {
        akc_arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
}

static void *akc_arena_alloc(void *data, size_t size) {
    akc_arena *arena = data;
    if (size > arena->limit - arena->requested) {
        arena->exceeded = 1;
        return NULL;
    }
    arena->requested += size;
    size_t rounded = (size + AKC_ARENA_ALIGNMENT - 1) & ~(size_t)(AKC_ARENA_ALIGNMENT - 1);
    if (rounded == 0) rounded = AKC_ARENA_ALIGNMENT;
    akc_arena_chunk *chunk = arena->chunks;
    if (rounded > chunk->capacity - chunk->used) {
        // A new chunk at the head; at least twice the last, so a big message takes few.
        size_t capacity = chunk->capacity * 2;
        if (capacity < rounded) capacity = rounded;
        akc_arena_chunk *grown = akc_arena_chunk_new(capacity);
        if (!grown) return NULL;
        grown->next = chunk;
        arena->chunks = grown;
        chunk = grown;
    }
    void *pointer = chunk->bytes + chunk->used;
    chunk->used += rounded;
    return pointer;
}

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
