#include "arena.h"

#include <pthread.h>
#include <stdlib.h>

// Small arenas start in a chunk of this size, and each thread keeps the last few such
// chunks its arenas freed for the next ones: a Verify call decodes a frame and a request
// and builds a response, one arena each, one after another, so in steady state none of them
// calls malloc. Larger first chunks are malloc'd and freed as usual.
enum { CACHED_CHUNK_CAPACITY = 2048, CACHE_SLOTS = 2 };
static _Thread_local akc_arena_chunk *cached_chunks[CACHE_SLOTS];
static _Thread_local int cache_registered;

// A thread that ends gives its cached chunks back (pthread runs this at its exit).
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void free_cached_chunks(void *unused) {
    (void)unused;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(cached_chunks[i]);
        cached_chunks[i] = NULL;
    }
}

static void make_cache_key(void) { pthread_key_create(&cache_key, free_cached_chunks); }

// Sizes past this are refused: the rounding and the chunk header below cannot overflow.
static const size_t max_block = SIZE_MAX / 4;

static akc_arena_chunk *chunk_new(size_t capacity) {
    if (capacity > max_block) return NULL;
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
        if (!cache_registered) {
            // The destructor runs only for threads whose key value is not NULL.
            pthread_once(&cache_key_once, make_cache_key);
            pthread_setspecific(cache_key, &cache_registered);
            cache_registered = 1;
        }
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
    // The arena itself is in one of the chunks: read nothing of it after this.
    akc_arena_chunk *chunk = arena->chunks;
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
    if (size > max_block) return NULL;
    arena->requested += size;
    size_t rounded = (size + AKC_ARENA_ALIGNMENT - 1) & ~(size_t)(AKC_ARENA_ALIGNMENT - 1);
    if (rounded == 0) rounded = AKC_ARENA_ALIGNMENT;
    akc_arena_chunk *chunk = arena->chunks;
    if (rounded <= chunk->capacity - chunk->used) {
        void *pointer = chunk->bytes + chunk->used;
        chunk->used += rounded;
        return pointer;
    }
    if (rounded >= chunk->capacity) {
        // A block as large as the current chunk (a big bytes field) gets a chunk of its own
        // behind it, so the chunks that follow do not double from its size.
        akc_arena_chunk *own = chunk_new(rounded);
        if (!own) return NULL;
        own->used = rounded;
        own->next = chunk->next;
        chunk->next = own;
        return own->bytes;
    }
    // A new chunk at the head, twice the last, so a message of many small parts takes few.
    akc_arena_chunk *grown = chunk_new(chunk->capacity * 2);
    if (!grown) return NULL;
    grown->next = chunk;
    arena->chunks = grown;
    grown->used = rounded;
    return grown->bytes;
}
