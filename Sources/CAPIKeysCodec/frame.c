// Whole frames: preface, length prefix, envelope encode and decode.
#include "apikeys_codec.h"
#include "arena.h"
#include "strings.h"
#include "apikeys/v1/frame.pb-c.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t akc_magic[7] = {'A', 'P', 'I', 'K', 'E', 'Y', 'S'};

akc_status akc_preface_check(const uint8_t *bytes, size_t available, uint8_t *version_out) {
    size_t n = available < sizeof akc_magic ? available : sizeof akc_magic;
    if (n > 0 && memcmp(bytes, akc_magic, n) != 0) return AKC_BAD_MAGIC;
    if (available < AKC_PREFACE_SIZE) return AKC_NEED_MORE;
    *version_out = bytes[7];
    return bytes[7] == AKC_PROTOCOL_VERSION ? AKC_OK : AKC_BAD_VERSION;
}

void akc_preface_write(uint8_t *out) {
    memcpy(out, akc_magic, sizeof akc_magic);
    out[7] = AKC_PROTOCOL_VERSION;
}

akc_status akc_frame_length(const uint8_t *bytes, size_t available, uint32_t max_frame_size,
                            uint32_t *length_out) {
    if (available < AKC_LENGTH_PREFIX_SIZE) return AKC_NEED_MORE;
    uint32_t length = ((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) |
                      ((uint32_t)bytes[2] << 8) | (uint32_t)bytes[3];
    *length_out = length;
    return length > max_frame_size ? AKC_TOO_LARGE : AKC_OK;
}

static akc_bytes string_bytes(const char *s) {
    akc_bytes b = {(const uint8_t *)(s ? s : ""), s ? strlen(s) : 0};
    return b;
}

static akc_bytes binary_bytes(ProtobufCBinaryData d) {
    akc_bytes b = {d.data, d.len};
    return b;
}

akc_status akc_frame_decode(const uint8_t *body, size_t length, size_t alloc_budget, akc_frame *out) {
    memset(out, 0, sizeof *out);
    if (akc_has_bad_string(&apikeys__v1__frame__descriptor, body, length)) return AKC_BAD_STRING;
    // The envelope, its strings and the metadata array all live in one arena, freed whole
    // by akc_frame_release.
    akc_arena *arena = akc_arena_new(akc_arena_first_capacity(length), alloc_budget);
    if (!arena) return AKC_NO_MEMORY;
    ProtobufCAllocator allocator = akc_arena_allocator(arena);
    Apikeys__V1__Frame *envelope = apikeys__v1__frame__unpack(&allocator, length, body);
    if (!envelope) {
        akc_status status = arena->exceeded ? AKC_OVER_BUDGET : AKC_MALFORMED;
        akc_arena_free(arena);
        return status;
    }

    switch (envelope->kind_case) {
    case APIKEYS__V1__FRAME__KIND_REQUEST: {
        Apikeys__V1__Request *r = envelope->request;
        out->kind = AKC_FRAME_REQUEST;
        out->call_id = r->call_id;
        out->method = string_bytes(r->method);
        out->timeout_micros = r->timeout_micros;
        out->message = binary_bytes(r->message);
        if (r->n_metadata > 0) {
            if (r->n_metadata > SIZE_MAX / (2 * sizeof(akc_bytes))) {
                akc_arena_free(arena);
                return AKC_OVER_BUDGET;
            }
            akc_bytes *metadata = akc_arena_alloc(arena, 2 * r->n_metadata * sizeof(akc_bytes));
            if (!metadata) {
                akc_status status = arena->exceeded ? AKC_OVER_BUDGET : AKC_NO_MEMORY;
                akc_arena_free(arena);
                return status;
            }
            for (size_t i = 0; i < r->n_metadata; i++) {
                metadata[2 * i] = string_bytes(r->metadata[i]->key);
                metadata[2 * i + 1] = string_bytes(r->metadata[i]->value);
            }
            out->metadata_count = r->n_metadata;
            out->metadata = metadata;
        }
        break;
    }
    case APIKEYS__V1__FRAME__KIND_RESPONSE: {
        Apikeys__V1__Response *r = envelope->response;
        out->kind = AKC_FRAME_RESPONSE;
        out->call_id = r->call_id;
        out->message = binary_bytes(r->message);
        if (r->status) {
            out->status_code = r->status->code;
            out->status_message = string_bytes(r->status->message);
            out->status_details = binary_bytes(r->status->details);
        }
        break;
    }
    case APIKEYS__V1__FRAME__KIND_CANCEL:
        out->kind = AKC_FRAME_CANCEL;
        out->call_id = envelope->cancel->call_id;
        break;
    case APIKEYS__V1__FRAME__KIND_PING:
        out->kind = AKC_FRAME_PING;
        out->ping_data = envelope->ping->data;
        break;
    case APIKEYS__V1__FRAME__KIND_PONG:
        out->kind = AKC_FRAME_PONG;
        out->ping_data = envelope->pong->data;
        break;
    case APIKEYS__V1__FRAME__KIND_GOAWAY:
        out->kind = AKC_FRAME_GOAWAY;
        out->call_id = envelope->goaway->last_call_id;
        out->goaway_reason = (uint32_t)envelope->goaway->reason;
        out->goaway_message = string_bytes(envelope->goaway->message);
        break;
    case APIKEYS__V1__FRAME__KIND_SETTINGS: {
        Apikeys__V1__ServerSettings *s = envelope->settings;
        out->kind = AKC_FRAME_SETTINGS;
        out->protocol_version = s->protocol_version;
        out->max_frame_size = s->max_frame_size;
        out->max_concurrent_calls = s->max_concurrent_calls;
        out->idle_timeout_millis = s->idle_timeout_millis;
        out->keepalive_interval_millis = s->keepalive_interval_millis;
        out->server_name = string_bytes(s->server);
        break;
    }
    default:
        akc_arena_free(arena);
        return AKC_NO_KIND;
    }
    out->internal = arena;
    return AKC_OK;
}

void akc_frame_release(akc_frame *frame) {
    akc_arena_free(frame->internal);
    frame->internal = NULL;
}

static char *c_string(akc_bytes b) {
    // protobuf-c reads strings up to their NUL; the caller guarantees one at data[length].
    return b.data ? (char *)b.data : (char *)"";
}

static ProtobufCBinaryData binary(akc_bytes b) {
    ProtobufCBinaryData d = {b.length, (uint8_t *)b.data};
    return d;
}

static int has_nul(akc_bytes b) {
    return b.length > 0 && memchr(b.data, 0, b.length) != NULL;
}

// Builds the envelope on the stack, pointing at the caller's memory, and hands it to
// `action`. Metadata entries need arrays; small counts stay on the stack.
typedef size_t (*envelope_action)(const Apikeys__V1__Frame *envelope, uint8_t *out, size_t capacity);

static size_t with_envelope(const akc_frame *frame, envelope_action action, uint8_t *out, size_t capacity) {
    Apikeys__V1__Frame envelope;
    apikeys__v1__frame__init(&envelope);
    Apikeys__V1__Request request;
    Apikeys__V1__Response response;
    Apikeys__V1__Status status;
    Apikeys__V1__Cancel cancel;
    Apikeys__V1__Ping ping;
    Apikeys__V1__Pong pong;
    Apikeys__V1__GoAway goaway;
    Apikeys__V1__ServerSettings settings;
    enum { STACK_ENTRIES = 16 };
    Apikeys__V1__Request__MetadataEntry entry_storage[STACK_ENTRIES];
    Apikeys__V1__Request__MetadataEntry *pointer_storage[STACK_ENTRIES];
    Apikeys__V1__Request__MetadataEntry *entries = entry_storage;
    Apikeys__V1__Request__MetadataEntry **pointers = pointer_storage;
    size_t result = 0;

    switch (frame->kind) {
    case AKC_FRAME_REQUEST:
        if (has_nul(frame->method)) return 0;
        apikeys__v1__request__init(&request);
        request.call_id = frame->call_id;
        request.method = c_string(frame->method);
        request.timeout_micros = frame->timeout_micros;
        request.message = binary(frame->message);
        if (frame->metadata_count > STACK_ENTRIES) {
            entries = malloc(frame->metadata_count * sizeof *entries);
            pointers = malloc(frame->metadata_count * sizeof *pointers);
            if (!entries || !pointers) goto done;
        }
        for (size_t i = 0; i < frame->metadata_count; i++) {
            if (has_nul(frame->metadata[2 * i]) || has_nul(frame->metadata[2 * i + 1])) goto done;
            apikeys__v1__request__metadata_entry__init(&entries[i]);
            entries[i].key = c_string(frame->metadata[2 * i]);
            entries[i].value = c_string(frame->metadata[2 * i + 1]);
            pointers[i] = &entries[i];
        }
        request.n_metadata = frame->metadata_count;
        request.metadata = pointers;
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_REQUEST;
        envelope.request = &request;
        break;
    case AKC_FRAME_RESPONSE:
        if (has_nul(frame->status_message)) return 0;
        apikeys__v1__response__init(&response);
        apikeys__v1__status__init(&status);
        status.code = (Apikeys__V1__Code)frame->status_code;
        status.message = c_string(frame->status_message);
        status.details = binary(frame->status_details);
        response.call_id = frame->call_id;
        response.status = &status;
        response.message = binary(frame->message);
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_RESPONSE;
        envelope.response = &response;
        break;
    case AKC_FRAME_CANCEL:
        apikeys__v1__cancel__init(&cancel);
        cancel.call_id = frame->call_id;
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_CANCEL;
        envelope.cancel = &cancel;
        break;
    case AKC_FRAME_PING:
        apikeys__v1__ping__init(&ping);
        ping.data = frame->ping_data;
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_PING;
        envelope.ping = &ping;
        break;
    case AKC_FRAME_PONG:
        apikeys__v1__pong__init(&pong);
        pong.data = frame->ping_data;
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_PONG;
        envelope.pong = &pong;
        break;
    case AKC_FRAME_GOAWAY:
        if (has_nul(frame->goaway_message)) return 0;
        apikeys__v1__go_away__init(&goaway);
        goaway.last_call_id = frame->call_id;
        goaway.reason = (Apikeys__V1__GoAwayReason)frame->goaway_reason;
        goaway.message = c_string(frame->goaway_message);
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_GOAWAY;
        envelope.goaway = &goaway;
        break;
    case AKC_FRAME_SETTINGS:
        if (has_nul(frame->server_name)) return 0;
        apikeys__v1__server_settings__init(&settings);
        settings.protocol_version = frame->protocol_version;
        settings.max_frame_size = frame->max_frame_size;
        settings.max_concurrent_calls = frame->max_concurrent_calls;
        settings.idle_timeout_millis = frame->idle_timeout_millis;
        settings.keepalive_interval_millis = frame->keepalive_interval_millis;
        settings.server = c_string(frame->server_name);
        envelope.kind_case = APIKEYS__V1__FRAME__KIND_SETTINGS;
        envelope.settings = &settings;
        break;
    default:
        return 0;
    }
    result = action(&envelope, out, capacity);
done:
    if (entries != entry_storage) free(entries);
    if (pointers != pointer_storage) free(pointers);
    return result;
}

static size_t size_action(const Apikeys__V1__Frame *envelope, uint8_t *out, size_t capacity) {
    (void)out;
    (void)capacity;
    size_t body = apikeys__v1__frame__get_packed_size(envelope);
    return body > UINT32_MAX ? 0 : AKC_LENGTH_PREFIX_SIZE + body;
}

static size_t pack_action(const Apikeys__V1__Frame *envelope, uint8_t *out, size_t capacity) {
    size_t body = apikeys__v1__frame__get_packed_size(envelope);
    if (body > UINT32_MAX || capacity < AKC_LENGTH_PREFIX_SIZE + body) return 0;
    out[0] = (uint8_t)(body >> 24);
    out[1] = (uint8_t)(body >> 16);
    out[2] = (uint8_t)(body >> 8);
    out[3] = (uint8_t)body;
    size_t written = apikeys__v1__frame__pack(envelope, out + AKC_LENGTH_PREFIX_SIZE);
    return written == body ? AKC_LENGTH_PREFIX_SIZE + body : 0;
}

size_t akc_frame_encoded_size(const akc_frame *frame) {
    return with_envelope(frame, size_action, NULL, 0);
}

size_t akc_frame_encode(const akc_frame *frame, uint8_t *out, size_t capacity) {
    return with_envelope(frame, pack_action, out, capacity);
}
