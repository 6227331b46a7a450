// Messages of proto/apikeys/v1 by full name and field number, over protobuf-c's
// descriptors, so Swift needs no per-message C code.
#include "apikeys_codec.h"
#include "budget.h"
#include "arena.h"
#include "strings.h"
#include "apikeys_types.inc"

#include <string.h>

#define MEMBER(type, message, offset) (*(type *)((uint8_t *)(message) + (offset)))
#define CONST_MEMBER(type, message, offset) (*(const type *)((const uint8_t *)(message) + (offset)))

static int compare_names(const void *key, const void *element) {
    const ProtobufCMessageDescriptor *const *descriptor = element;
    return strcmp(key, (*descriptor)->name);
}

static const ProtobufCMessageDescriptor *const *sorted_types(void) {
    // The table is sorted by C symbol; sort a copy by full name once for bsearch.
    static const ProtobufCMessageDescriptor *sorted[sizeof akc_all_types / sizeof akc_all_types[0]];
    static int ready = 0;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        static const ProtobufCMessageDescriptor *local[sizeof sorted / sizeof sorted[0]];
        size_t n = sizeof local / sizeof local[0];
        memcpy(local, akc_all_types, sizeof local);
        for (size_t i = 1; i < n; i++) {
            for (size_t j = i; j > 0 && strcmp(local[j - 1]->name, local[j]->name) > 0; j--) {
                const ProtobufCMessageDescriptor *t = local[j];
                local[j] = local[j - 1];
                local[j - 1] = t;
            }
        }
        // Benign if two threads race: both write the same sorted contents.
        memcpy(sorted, local, sizeof sorted);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    return sorted;
}

const akc_type *akc_type_named(const char *full_name) {
    const ProtobufCMessageDescriptor *const *found =
        bsearch(full_name, sorted_types(), sizeof akc_all_types / sizeof akc_all_types[0],
                sizeof akc_all_types[0], compare_names);
    return found ? (const akc_type *)*found : NULL;
}

static const ProtobufCMessageDescriptor *descriptor_of(const akc_type *type) {
    return (const ProtobufCMessageDescriptor *)type;
}

static ProtobufCMessage *as_message(akc_message *message) { return (ProtobufCMessage *)message; }
static const ProtobufCMessage *as_const(const akc_message *message) { return (const ProtobufCMessage *)message; }

// A builder is an arena (see arena.h) with no budget; NULL means malloc and free.
static akc_arena *arena_of(akc_builder *builder) { return (akc_arena *)builder; }

static void *owned_alloc(akc_builder *builder, size_t size) {
    return builder ? akc_arena_alloc(arena_of(builder), size) : malloc(size);
}

static void owned_free(akc_builder *builder, void *pointer) {
    if (!builder) free(pointer);
}

static ProtobufCMessage *new_message(akc_builder *builder, const ProtobufCMessageDescriptor *descriptor) {
    ProtobufCMessage *message = owned_alloc(builder, descriptor->sizeof_message);
    if (message) descriptor->message_init(message);
    return message;
}

akc_message *akc_message_new(const akc_type *type) {
    return (akc_message *)new_message(NULL, descriptor_of(type));
}

akc_builder *akc_builder_new(const akc_type *type, akc_message **message_out) {
    *message_out = NULL;
    akc_arena *arena = akc_arena_new(512, SIZE_MAX);
    if (!arena) return NULL;
    akc_builder *builder = (akc_builder *)arena;
    *message_out = (akc_message *)new_message(builder, descriptor_of(type));
    if (!*message_out) {
        akc_arena_free(arena);
        return NULL;
    }
    return builder;
}

void akc_builder_free(akc_builder *builder) {
    akc_arena_free(arena_of(builder));
}

akc_status akc_message_decode(const akc_type *type, const uint8_t *data, size_t length,
                              size_t alloc_budget, akc_message **out) {
    *out = NULL;
    if (akc_has_bad_string(descriptor_of(type), data, length)) return AKC_BAD_STRING;
    akc_budget budget = {0, alloc_budget, 0};
    ProtobufCAllocator allocator = akc_budget_allocator(&budget);
    ProtobufCMessage *message = protobuf_c_message_unpack(descriptor_of(type), &allocator, length, data);
    *out = (akc_message *)message;
    if (message) return AKC_OK;
    return budget.exceeded ? AKC_OVER_BUDGET : AKC_MALFORMED;
}

akc_status akc_message_view_decode(const akc_type *type, const uint8_t *data, size_t length,
                                   size_t alloc_budget, akc_message_view *out) {
    out->message = NULL;
    out->internal = NULL;
    if (akc_has_bad_string(descriptor_of(type), data, length)) return AKC_BAD_STRING;
    akc_arena *arena = akc_arena_new(akc_arena_first_capacity(length), alloc_budget);
    if (!arena) return AKC_NO_MEMORY;
    ProtobufCAllocator allocator = akc_arena_allocator(arena);
    ProtobufCMessage *message = protobuf_c_message_unpack(descriptor_of(type), &allocator, length, data);
    if (!message) {
        akc_status status = arena->exceeded ? AKC_OVER_BUDGET : AKC_MALFORMED;
        akc_arena_free(arena);
        return status;
    }
    out->message = (const akc_message *)message;
    out->internal = arena;
    return AKC_OK;
}

void akc_message_view_release(akc_message_view *view) {
    akc_arena_free(view->internal);
    view->message = NULL;
    view->internal = NULL;
}

void akc_message_free(akc_message *message) {
    if (message) protobuf_c_message_free_unpacked(as_message(message), NULL);
}

size_t akc_message_encoded_size(const akc_message *message) {
    return protobuf_c_message_get_packed_size(as_const(message));
}

size_t akc_message_encode(const akc_message *message, uint8_t *out) {
    return protobuf_c_message_pack(as_const(message), out);
}

static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessage *message, uint32_t number) {
    return message ? protobuf_c_message_descriptor_get_field(message->descriptor, number) : NULL;
}

static int is_oneof(const ProtobufCFieldDescriptor *field) {
    return (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

// A singular field is readable unless it is a oneof member other than the current case.
static int readable(const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field) {
    if (!field || field->label == PROTOBUF_C_LABEL_REPEATED) return 0;
    if (is_oneof(field)) return CONST_MEMBER(uint32_t, message, field->quantifier_offset) == field->id;
    return 1;
}

static uint64_t load_uint(const void *slot, ProtobufCType type) {
    switch (type) {
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return *(const uint32_t *)slot;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)slot;
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)slot ? 1 : 0;
    default: return 0;
    }
}

static int64_t load_int(const void *slot, ProtobufCType type) {
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM: return *(const int32_t *)slot;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return *(const int64_t *)slot;
    default: return 0;
    }
}

static akc_bytes load_bytes(const void *slot, ProtobufCType type) {
    akc_bytes b = {(const uint8_t *)"", 0};
    if (type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(const char *const *)slot;
        if (s) {
            b.data = (const uint8_t *)s;
            b.length = strlen(s);
        }
    } else if (type == PROTOBUF_C_TYPE_BYTES) {
        const ProtobufCBinaryData *d = slot;
        if (d->data) {
            b.data = d->data;
            b.length = d->len;
        }
    }
    return b;
}

static size_t element_size(ProtobufCType type) {
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

bool akc_has(const akc_message *m, uint32_t number) {
    const ProtobufCMessage *message = as_const(m);
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    if (!readable(message, field)) return false;
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) return CONST_MEMBER(void *, message, field->offset) != NULL;
    return is_oneof(field);
}

uint64_t akc_get_uint(const akc_message *m, uint32_t number) {
    const ProtobufCMessage *message = as_const(m);
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    return readable(message, field) ? load_uint((const uint8_t *)message + field->offset, field->type) : 0;
}

int64_t akc_get_int(const akc_message *m, uint32_t number) {
    const ProtobufCMessage *message = as_const(m);
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    return readable(message, field) ? load_int((const uint8_t *)message + field->offset, field->type) : 0;
}

akc_bytes akc_get_bytes(const akc_message *m, uint32_t number) {
    const ProtobufCMessage *message = as_const(m);
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    akc_bytes empty = {(const uint8_t *)"", 0};
    return readable(message, field) ? load_bytes((const uint8_t *)message + field->offset, field->type) : empty;
}

const akc_message *akc_get_message(const akc_message *m, uint32_t number) {
    const ProtobufCMessage *message = as_const(m);
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    if (!readable(message, field) || field->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
    return CONST_MEMBER(akc_message *, message, field->offset);
}

static const ProtobufCFieldDescriptor *repeated_field(const ProtobufCMessage *message, uint32_t number) {
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    return field && field->label == PROTOBUF_C_LABEL_REPEATED ? field : NULL;
}

size_t akc_count(const akc_message *m, uint32_t number) {
    const ProtobufCMessage *message = as_const(m);
    const ProtobufCFieldDescriptor *field = repeated_field(message, number);
    return field ? CONST_MEMBER(size_t, message, field->quantifier_offset) : 0;
}

// The address of element `index` of a repeated field, or NULL when out of range.
static const void *element_at(const ProtobufCMessage *message, uint32_t number, size_t index,
                              const ProtobufCFieldDescriptor **field_out) {
    const ProtobufCFieldDescriptor *field = repeated_field(message, number);
    if (!field || index >= CONST_MEMBER(size_t, message, field->quantifier_offset)) return NULL;
    *field_out = field;
    const uint8_t *array = CONST_MEMBER(uint8_t *, message, field->offset);
    return array + index * element_size(field->type);
}

uint64_t akc_get_uint_at(const akc_message *m, uint32_t number, size_t index) {
    const ProtobufCFieldDescriptor *field;
    const void *slot = element_at(as_const(m), number, index, &field);
    return slot ? load_uint(slot, field->type) : 0;
}

int64_t akc_get_int_at(const akc_message *m, uint32_t number, size_t index) {
    const ProtobufCFieldDescriptor *field;
    const void *slot = element_at(as_const(m), number, index, &field);
    return slot ? load_int(slot, field->type) : 0;
}

akc_bytes akc_get_bytes_at(const akc_message *m, uint32_t number, size_t index) {
    const ProtobufCFieldDescriptor *field;
    const void *slot = element_at(as_const(m), number, index, &field);
    akc_bytes empty = {(const uint8_t *)"", 0};
    return slot ? load_bytes(slot, field->type) : empty;
}

const akc_message *akc_get_message_at(const akc_message *m, uint32_t number, size_t index) {
    const ProtobufCFieldDescriptor *field;
    const void *slot = element_at(as_const(m), number, index, &field);
    return slot && field->type == PROTOBUF_C_TYPE_MESSAGE ? *(const akc_message *const *)slot : NULL;
}

// --- writing

// Frees what a singular slot owns before it is overwritten.
static void release_slot(akc_builder *builder, void *slot, const ProtobufCFieldDescriptor *field) {
    switch (field->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char *s = *(char **)slot;
        if (s && s != (const char *)field->default_value && s != protobuf_c_empty_string) owned_free(builder, s);
        *(char **)slot = NULL;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *d = slot;
        const ProtobufCBinaryData *def = field->default_value;
        if (d->data && (!def || d->data != def->data)) owned_free(builder, d->data);
        d->data = NULL;
        d->len = 0;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = *(ProtobufCMessage **)slot;
        if (sub && !builder) protobuf_c_message_free_unpacked(sub, NULL);
        *(ProtobufCMessage **)slot = NULL;
        break;
    }
    default:
        break;
    }
}

// The slot of a singular field, made the oneof's case (freeing the old case's value).
static void *writable_slot(akc_builder *builder, ProtobufCMessage *message, const ProtobufCFieldDescriptor *field) {
    if (is_oneof(field)) {
        uint32_t *oneof_case = &MEMBER(uint32_t, message, field->quantifier_offset);
        if (*oneof_case != field->id) {
            if (*oneof_case != 0) {
                const ProtobufCFieldDescriptor *old = protobuf_c_message_descriptor_get_field(message->descriptor, *oneof_case);
                // Members of one oneof share the slot.
                if (old) release_slot(builder, (uint8_t *)message + old->offset, old);
            }
            memset((uint8_t *)message + field->offset, 0, element_size(field->type));
            *oneof_case = field->id;
        }
    }
    return (uint8_t *)message + field->offset;
}

static akc_status store_uint(void *slot, ProtobufCType type, uint64_t value) {
    switch (type) {
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: *(uint32_t *)slot = (uint32_t)value; return AKC_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: *(uint64_t *)slot = value; return AKC_OK;
    case PROTOBUF_C_TYPE_BOOL: *(protobuf_c_boolean *)slot = value != 0; return AKC_OK;
    default: return AKC_BAD_FIELD;
    }
}

static akc_status store_int(void *slot, ProtobufCType type, int64_t value) {
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM: *(int32_t *)slot = (int32_t)value; return AKC_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: *(int64_t *)slot = value; return AKC_OK;
    default: return AKC_BAD_FIELD;
    }
}

static akc_status store_bytes(akc_builder *builder, void *slot, ProtobufCType type, const uint8_t *data, size_t length) {
    if (type == PROTOBUF_C_TYPE_STRING) {
        if (length > 0 && memchr(data, 0, length)) return AKC_BAD_STRING;
        char *copy = owned_alloc(builder, length + 1);
        if (!copy) return AKC_NO_MEMORY;
        if (length) memcpy(copy, data, length);
        copy[length] = 0;
        *(char **)slot = copy;
        return AKC_OK;
    }
    if (type == PROTOBUF_C_TYPE_BYTES) {
        ProtobufCBinaryData *d = slot;
        d->data = NULL;
        d->len = 0;
        if (length == 0) return AKC_OK;
        d->data = owned_alloc(builder, length);
        if (!d->data) return AKC_NO_MEMORY;
        memcpy(d->data, data, length);
        d->len = length;
        return AKC_OK;
    }
    return AKC_BAD_FIELD;
}

static const ProtobufCFieldDescriptor *singular_field(ProtobufCMessage *message, uint32_t number) {
    const ProtobufCFieldDescriptor *field = field_of(message, number);
    return field && field->label != PROTOBUF_C_LABEL_REPEATED ? field : NULL;
}

akc_status akc_set_uint(akc_builder *builder, akc_message *m, uint32_t number, uint64_t value) {
    ProtobufCMessage *message = as_message(m);
    const ProtobufCFieldDescriptor *field = singular_field(message, number);
    if (!field) return AKC_BAD_FIELD;
    switch (field->type) {
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_BOOL: break;
    default: return AKC_BAD_FIELD;
    }
    return store_uint(writable_slot(builder, message, field), field->type, value);
}

akc_status akc_set_int(akc_builder *builder, akc_message *m, uint32_t number, int64_t value) {
    ProtobufCMessage *message = as_message(m);
    const ProtobufCFieldDescriptor *field = singular_field(message, number);
    if (!field) return AKC_BAD_FIELD;
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM: case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: break;
    default: return AKC_BAD_FIELD;
    }
    return store_int(writable_slot(builder, message, field), field->type, value);
}

akc_status akc_set_bytes(akc_builder *builder, akc_message *m, uint32_t number, const uint8_t *data, size_t length) {
    ProtobufCMessage *message = as_message(m);
    const ProtobufCFieldDescriptor *field = singular_field(message, number);
    if (!field || (field->type != PROTOBUF_C_TYPE_STRING && field->type != PROTOBUF_C_TYPE_BYTES)) return AKC_BAD_FIELD;
    if (field->type == PROTOBUF_C_TYPE_STRING && length > 0 && memchr(data, 0, length)) return AKC_BAD_STRING;
    void *slot = writable_slot(builder, message, field);
    release_slot(builder, slot, field);
    return store_bytes(builder, slot, field->type, data, length);
}

akc_message *akc_set_message(akc_builder *builder, akc_message *m, uint32_t number) {
    ProtobufCMessage *message = as_message(m);
    const ProtobufCFieldDescriptor *field = singular_field(message, number);
    if (!field || field->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
    ProtobufCMessage **slot = writable_slot(builder, message, field);
    if (!*slot) *slot = new_message(builder, field->descriptor);
    return (akc_message *)*slot;
}

// Grows a repeated field by one zeroed element and returns its slot.
static void *append_slot(akc_builder *builder, ProtobufCMessage *message, uint32_t number, ProtobufCType *type_out,
                         const ProtobufCFieldDescriptor **field_out) {
    const ProtobufCFieldDescriptor *field = repeated_field(message, number);
    if (!field) return NULL;
    size_t *count = &MEMBER(size_t, message, field->quantifier_offset);
    uint8_t **array = &MEMBER(uint8_t *, message, field->offset);
    size_t size = element_size(field->type);
    // Capacity is always the next power of two at or above the count, so appending n elements
    // costs O(n). protobuf-c sizes decoded arrays exactly, so reallocate on every append:
    // realloc to the size a block already has is cheap, and this is right for both.
    size_t n = *count;
    size_t capacity = 1;
    while (capacity < n + 1) capacity *= 2;
    if (!builder) {
        uint8_t *grown = realloc(*array, capacity * size);
        if (!grown) return NULL;
        *array = grown;
    } else if ((n & (n - 1)) == 0) {
        // A built message's arrays all come from appends, so their capacity is the next
        // power of two at or above n: full exactly when n is a power of two (or 0). The
        // old array stays in the arena until the builder is freed.
        uint8_t *grown = akc_arena_alloc(arena_of(builder), capacity * size);
        if (!grown) return NULL;
        if (n) memcpy(grown, *array, n * size);
        *array = grown;
    }
    void *slot = *array + n * size;
    memset(slot, 0, size);
    *count = n + 1;
    *type_out = field->type;
    *field_out = field;
    return slot;
}

akc_status akc_add_uint(akc_builder *builder, akc_message *m, uint32_t number, uint64_t value) {
    ProtobufCType type;
    const ProtobufCFieldDescriptor *field;
    void *slot = append_slot(builder, as_message(m), number, &type, &field);
    if (!slot) return AKC_BAD_FIELD;
    akc_status status = store_uint(slot, type, value);
    if (status != AKC_OK) MEMBER(size_t, m, field->quantifier_offset) -= 1;
    return status;
}

akc_status akc_add_int(akc_builder *builder, akc_message *m, uint32_t number, int64_t value) {
    ProtobufCType type;
    const ProtobufCFieldDescriptor *field;
    void *slot = append_slot(builder, as_message(m), number, &type, &field);
    if (!slot) return AKC_BAD_FIELD;
    akc_status status = store_int(slot, type, value);
    if (status != AKC_OK) MEMBER(size_t, m, field->quantifier_offset) -= 1;
    return status;
}

akc_status akc_add_bytes(akc_builder *builder, akc_message *m, uint32_t number, const uint8_t *data, size_t length) {
    ProtobufCType type;
    const ProtobufCFieldDescriptor *field;
    void *slot = append_slot(builder, as_message(m), number, &type, &field);
    if (!slot) return AKC_BAD_FIELD;
    akc_status status = store_bytes(builder, slot, type, data, length);
    if (status != AKC_OK) MEMBER(size_t, m, field->quantifier_offset) -= 1;
    return status;
}

akc_message *akc_add_message(akc_builder *builder, akc_message *m, uint32_t number) {
    ProtobufCType type;
    const ProtobufCFieldDescriptor *field;
    ProtobufCMessage *message = as_message(m);
    void *slot = append_slot(builder, message, number, &type, &field);
    if (!slot) return NULL;
    ProtobufCMessage *sub = type == PROTOBUF_C_TYPE_MESSAGE ? new_message(builder, field->descriptor) : NULL;
    if (!sub) {
        MEMBER(size_t, message, field->quantifier_offset) -= 1;
        return NULL;
    }
    *(ProtobufCMessage **)slot = sub;
    return (akc_message *)sub;
}
