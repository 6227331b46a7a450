// An allocator for protobuf-c that refuses to go past a byte budget, so a hostile
// frame cannot make unpacking allocate without bound.
#ifndef AKC_BUDGET_H
#define AKC_BUDGET_H

#include <stdlib.h>
#include <protobuf-c/protobuf-c.h>

typedef struct akc_budget {
    size_t used;
    size_t limit;
    int exceeded;
} akc_budget;

static void *akc_budget_alloc(void *data, size_t size) {
    akc_budget *budget = data;
    if (size > budget->limit - budget->used) {
        budget->exceeded = 1;
        return NULL;
    }
    budget->used += size;
    return malloc(size ? size : 1);
}

static void akc_budget_free(void *data, void *pointer) {
    (void)data;
    free(pointer);
}

static inline ProtobufCAllocator akc_budget_allocator(akc_budget *budget) {
    ProtobufCAllocator allocator = {akc_budget_alloc, akc_budget_free, budget};
    return allocator;
}

#endif
