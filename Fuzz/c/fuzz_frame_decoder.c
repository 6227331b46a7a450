// libFuzzer harness for the whole inbound frame path of the C codec: preface, length
// prefix with a maximum, akc_frame_decode under the allocation budget, then a round trip
// through akc_frame_encode that must give back the same frame.
//
// Input: the bytes a client would send on a connection (preface, then frames).
#include "apikeys_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The server's defaults (docs/PROTOCOL.md §6, Sources/APIKeysWire/ProtoMessage.swift).
enum { MAX_FRAME_SIZE = 4 * 1024 * 1024, BUDGET_FLOOR = 64 * 1024, BUDGET_FACTOR = 16 };

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static size_t budget_for(size_t length) { return BUDGET_FLOOR + BUDGET_FACTOR * length; }

// Reads every byte, so ASan sees an out-of-bounds pointer or length.
static volatile uint8_t sink;
static void touch(akc_bytes b) {
    uint8_t x = 0;
    for (size_t i = 0; i < b.length; i++) x ^= b.data[i];
    sink = x;
}

static int same_bytes(akc_bytes a, akc_bytes b) {
    return a.length == b.length && (a.length == 0 || memcmp(a.data, b.data, a.length) == 0);
}

static void touch_frame(const akc_frame *f) {
    touch(f->method);
    touch(f->message);
    touch(f->status_message);
    touch(f->status_details);
    touch(f->goaway_message);
    touch(f->server_name);
    for (size_t i = 0; i < 2 * f->metadata_count; i++) touch(f->metadata[i]);
}

// Decoded strings come from strlen and so never hold a NUL; they must be NUL-terminated,
// because the encoder hands them to protobuf-c as C strings. Fields of other kinds stay
// zero (NULL, 0), which the encoder reads as "".
static void check_c_string(akc_bytes b) {
    if (!b.data) {
        CHECK(b.length == 0);
        return;
    }
    CHECK(b.data[b.length] == 0);
}

static void check_same(const akc_frame *a, const akc_frame *b) {
    CHECK(a->kind == b->kind);
    switch (a->kind) {
    case AKC_FRAME_REQUEST:
        CHECK(a->call_id == b->call_id);
        CHECK(same_bytes(a->method, b->method));
        CHECK(a->timeout_micros == b->timeout_micros);
        CHECK(same_bytes(a->message, b->message));
        CHECK(a->metadata_count == b->metadata_count);
        for (size_t i = 0; i < 2 * a->metadata_count; i++) CHECK(same_bytes(a->metadata[i], b->metadata[i]));
        break;
    case AKC_FRAME_RESPONSE:
        CHECK(a->call_id == b->call_id);
        CHECK(a->status_code == b->status_code);
        CHECK(same_bytes(a->status_message, b->status_message));
        CHECK(same_bytes(a->status_details, b->status_details));
        CHECK(same_bytes(a->message, b->message));
        break;
    case AKC_FRAME_CANCEL:
        CHECK(a->call_id == b->call_id);
        break;
    case AKC_FRAME_PING:
    case AKC_FRAME_PONG:
        CHECK(a->ping_data == b->ping_data);
        break;
    case AKC_FRAME_GOAWAY:
        CHECK(a->call_id == b->call_id);
        CHECK(a->goaway_reason == b->goaway_reason);
        CHECK(same_bytes(a->goaway_message, b->goaway_message));
        break;
    case AKC_FRAME_SETTINGS:
        CHECK(a->protocol_version == b->protocol_version);
        CHECK(a->max_frame_size == b->max_frame_size);
        CHECK(a->max_concurrent_calls == b->max_concurrent_calls);
        CHECK(a->idle_timeout_millis == b->idle_timeout_millis);
        CHECK(a->keepalive_interval_millis == b->keepalive_interval_millis);
        CHECK(same_bytes(a->server_name, b->server_name));
        break;
    default:
        CHECK(!"decoded a frame of no known kind");
    }
}

// Encodes a decoded frame, decodes the result, and checks that nothing changed; then
// encodes the second frame and checks the bytes are identical (encoding is canonical).
static void round_trip(const akc_frame *frame) {
    check_c_string(frame->method);
    check_c_string(frame->status_message);
    check_c_string(frame->goaway_message);
    check_c_string(frame->server_name);
    for (size_t i = 0; i < 2 * frame->metadata_count; i++) check_c_string(frame->metadata[i]);

    size_t size = akc_frame_encoded_size(frame);
    CHECK(size >= AKC_LENGTH_PREFIX_SIZE);
    uint8_t *encoded = malloc(size);
    CHECK(encoded);
    // Too small a buffer must be refused, not overrun.
    CHECK(akc_frame_encode(frame, encoded, size - 1) == 0);
    CHECK(akc_frame_encode(frame, encoded, size) == size);

    uint32_t length = 0;
    CHECK(akc_frame_length(encoded, size, UINT32_MAX, &length) == AKC_OK);
    CHECK((size_t)length + AKC_LENGTH_PREFIX_SIZE == size);

    akc_frame again;
    akc_status status = akc_frame_decode(encoded + AKC_LENGTH_PREFIX_SIZE, length, budget_for(length), &again);
    CHECK(status == AKC_OK);
    check_same(frame, &again);

    uint8_t *encoded_again = malloc(size);
    CHECK(encoded_again);
    CHECK(akc_frame_encoded_size(&again) == size);
    CHECK(akc_frame_encode(&again, encoded_again, size) == size);
    CHECK(memcmp(encoded, encoded_again, size) == 0);

    akc_frame_release(&again);
    CHECK(again.internal == NULL);
    akc_frame_release(&again);  // a second release is a no-op
    free(encoded_again);
    free(encoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The preface check must give the same answer on every prefix: NEED_MORE until a
    // byte differs, then BAD_MAGIC for good.
    uint8_t version = 0;
    akc_status previous = AKC_NEED_MORE;
    size_t preface_end = size < AKC_PREFACE_SIZE ? size : AKC_PREFACE_SIZE;
    for (size_t n = 0; n <= preface_end; n++) {
        akc_status status = akc_preface_check(data, n, &version);
        if (previous == AKC_BAD_MAGIC) CHECK(status == AKC_BAD_MAGIC);
        if (n < AKC_PREFACE_SIZE) CHECK(status == AKC_NEED_MORE || status == AKC_BAD_MAGIC);
        previous = status;
    }
    if (previous != AKC_OK) return 0;
    CHECK(version == AKC_PROTOCOL_VERSION);

    const uint8_t *p = data + AKC_PREFACE_SIZE;
    size_t left = size - AKC_PREFACE_SIZE;
    for (;;) {
        uint32_t length = 0;
        akc_status status = akc_frame_length(p, left, MAX_FRAME_SIZE, &length);
        if (status == AKC_NEED_MORE) {
            CHECK(left < AKC_LENGTH_PREFIX_SIZE);
            return 0;
        }
        if (status == AKC_TOO_LARGE) {
            CHECK(length > MAX_FRAME_SIZE);
            return 0;
        }
        CHECK(status == AKC_OK && length <= MAX_FRAME_SIZE);
        if (left - AKC_LENGTH_PREFIX_SIZE < length) return 0;  // the body is still on its way
        const uint8_t *body = p + AKC_LENGTH_PREFIX_SIZE;

        akc_frame frame;
        status = akc_frame_decode(body, length, budget_for(length), &frame);
        if (status != AKC_OK) {
            CHECK(status == AKC_MALFORMED || status == AKC_OVER_BUDGET || status == AKC_NO_KIND);
            CHECK(frame.internal == NULL);
            return 0;  // the server sends GoAway and closes
        }
        CHECK(frame.kind >= AKC_FRAME_REQUEST && frame.kind <= AKC_FRAME_SETTINGS);
        CHECK(frame.internal != NULL);
        touch_frame(&frame);
        round_trip(&frame);
        akc_frame_release(&frame);

        p = body + length;
        left -= AKC_LENGTH_PREFIX_SIZE + length;
    }
}
