#include "strings.h"

#include <string.h>

// Deeper than any message of proto/ nests; a hostile nesting stops here.
#define MAX_DEPTH 32

static int read_varint(const uint8_t *data, size_t length, size_t *at, uint64_t *value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && *at < length; shift += 7) {
        uint8_t byte = data[(*at)++];
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            return 1;
        }
    }
    return 0;
}

static int valid_utf8_without_nul(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        // Eight bytes at a time while they are ASCII and not NUL: method paths, metadata and
        // secrets are ASCII, and a byte at a time was ~1,500 instructions per Verify call.
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            const uint64_t high = 0x8080808080808080ULL;
            if ((w & high) || ((w - 0x0101010101010101ULL) & ~w & high)) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= extra) return 0;
        for (size_t k = 1; k <= extra; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF.
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += extra + 1;
    }
    return 1;
}

static int bad_string(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t length, int depth) {
    if (depth > MAX_DEPTH) return 1;
    size_t at = 0;
    while (at < length) {
        uint64_t key, value;
        if (!read_varint(data, length, &at, &key)) return 0;
        switch (key & 7) {
        case 0:
            if (!read_varint(data, length, &at, &value)) return 0;
            break;
        case 1:
            if (length - at < 8) return 0;
            at += 8;
            break;
        case 5:
            if (length - at < 4) return 0;
            at += 4;
            break;
        case 2: {
            if (!read_varint(data, length, &at, &value) || value > length - at) return 0;
            uint64_t number = key >> 3;
            const ProtobufCFieldDescriptor *field =
                number <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(descriptor, (unsigned)number) : NULL;
            if (field && field->type == PROTOBUF_C_TYPE_STRING && !valid_utf8_without_nul(data + at, (size_t)value))
                return 1;
            if (field && field->type == PROTOBUF_C_TYPE_MESSAGE &&
                bad_string(field->descriptor, data + at, (size_t)value, depth + 1))
                return 1;
            at += (size_t)value;
            break;
        }
        default:
            return 0;
        }
    }
    return 0;
}

int akc_has_bad_string(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t length) {
    return bad_string(descriptor, data, length, 0);
}
