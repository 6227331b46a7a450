#include "arena.h"

#include <stdlib.h>

// Small arenas start in a chunk of this size, and each thread keeps the last few such
// chunks its arenas freed for the next ones: a Verify call decodes a frame and a request
// and builds a response, one arena each, one after another, so in steady state none of them
// calls malloc. Larger first chunks are malloc'd and freed as usual.
enum { CACHED_CHUNK_CAPACITY = 2048, CACHE_SLOTS = 2 };
static _Thread_local akc_arena_chunk *cached_chunks[CACHE_SLOTS];

static akc_arena_chunk *chunk_new(size_t capacity) {
    akc_arena_chunk *chunk = NULL;
    if (capacity <= CACHED_CHUNK_CAPACITY) {
        capacity = CACHED_CHUNK_CAPACITY;
        for (int i = 0; i < CACHE_SLOTS && !chunk; i++) {
            chunk = cached_chunks[i];
            cached_chunks[i] = NULL;
        }
    }
    if (!chunk) chunk = malloc(sizeof *chunk + capacity);
    if (!chunk) return NULL;
    chunk->next = NULL;
    chunk->capacity = capacity;
    chunk->used = 0;
    return chunk;
}

static void chunk_free(akc_arena_chunk *chunk) {
    if (chunk->capacity == CACHED_CHUNK_CAPACITY) {
        for (int i = 0; i < CACHE_SLOTS; i++) {
            if (!cached_chunks[i]) {
                cached_chunks[i] = chunk;
                return;
            }
        }
    }
    free(chunk);
}

// The arena lives at the start of its first chunk: one chunk when `first_capacity` is
// enough for everything.
akc_arena *akc_arena_new(size_t first_capacity, size_t limit) {
    size_t header = (sizeof(akc_arena) + AKC_ARENA_ALIGNMENT - 1) & ~(size_t)(AKC_ARENA_ALIGNMENT - 1);
    akc_arena_chunk *chunk = chunk_new(header + first_capacity);
    if (!chunk) return NULL;
    akc_arena *arena = (akc_arena *)chunk->bytes;
    chunk->used = header;
    arena->chunks = chunk;
    arena->requested = 0;
    arena->limit = limit;
    arena->exceeded = 0;
    return arena;
}

void akc_arena_free(akc_arena *arena) {
    if (!arena) return;
    akc_arena_chunk *chunk = arena->chunks;  // the arena itself is in the last chunk of the list
    while (chunk) {
        akc_arena_chunk *next = chunk->next;
        chunk_free(chunk);
        chunk = next;
    }
}

void *akc_arena_alloc(void *data, size_t size) {
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
        akc_arena_chunk *grown = chunk_new(capacity);
        if (!grown) return NULL;
        grown->next = chunk;
        arena->chunks = grown;
        chunk = grown;
    }
    void *pointer = chunk->bytes + chunk->used;
    chunk->used += rounded;
    return pointer;
}
