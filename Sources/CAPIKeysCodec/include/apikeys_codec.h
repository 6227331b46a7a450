// The C side of the apikeys wire: whole frames and protobuf messages, encoded and
// decoded with protobuf-c. Swift reaches protobuf-c only through this header, which
// exposes no protobuf-c type. docs/PROTOCOL.md describes the bytes.
#ifndef APIKEYS_CODEC_H
#define APIKEYS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bytes of the big-endian length that precedes every frame.
#define AKC_LENGTH_PREFIX_SIZE 4
/// Bytes of the connection preface: "APIKEYS" then the protocol version.
#define AKC_PREFACE_SIZE 8
#define AKC_PROTOCOL_VERSION 1

typedef enum akc_status {
    AKC_OK = 0,
    /// More bytes are needed before anything can be said.
    AKC_NEED_MORE = 1,
    /// The declared length is above the allowed maximum.
    AKC_TOO_LARGE = 2,
    /// protobuf-c could not unpack the bytes.
    AKC_MALFORMED = 3,
    /// Unpacking would allocate more than the budget allows.
    AKC_OVER_BUDGET = 4,
    /// A frame envelope with no kind set.
    AKC_NO_KIND = 5,
    /// A field that does not exist or has another type.
    AKC_BAD_FIELD = 6,
    /// A string field that is not valid UTF-8 or holds a NUL byte (refused on decode;
    /// on encode protobuf-c could not represent the NUL).
    AKC_BAD_STRING = 7,
    /// The preface's magic bytes are wrong.
    AKC_BAD_MAGIC = 8,
    /// The preface names a protocol version this build does not speak.
    AKC_BAD_VERSION = 9,
    AKC_NO_MEMORY = 10,
} akc_status;

/// A borrowed byte range. Strings handed to the encoder must also be NUL-terminated
/// at data[length] (protobuf-c measures them with strlen).
typedef struct akc_bytes {
    const uint8_t *data;
    size_t length;
} akc_bytes;

typedef enum akc_frame_kind {
    AKC_FRAME_NONE = 0,
    AKC_FRAME_REQUEST = 1,
    AKC_FRAME_RESPONSE = 2,
    AKC_FRAME_CANCEL = 3,
    AKC_FRAME_PING = 4,
    AKC_FRAME_PONG = 5,
    AKC_FRAME_GOAWAY = 6,
    AKC_FRAME_SETTINGS = 7,
} akc_frame_kind;

/// One frame, flattened. Only the fields of `kind` are meaningful.
/// After akc_frame_decode every pointer refers to memory owned by the frame
/// until akc_frame_release.
typedef struct akc_frame {
    akc_frame_kind kind;
    /// request, response, cancel; for goaway the last accepted call ID.
    uint64_t call_id;
    /// request
    akc_bytes method;
    uint64_t timeout_micros;
    size_t metadata_count;
    /// 2 * metadata_count entries: key, value, key, value, ...
    const akc_bytes *metadata;
    /// request and response: the method's message
    akc_bytes message;
    /// response
    int32_t status_code;
    akc_bytes status_message;
    akc_bytes status_details;
    /// ping, pong
    uint64_t ping_data;
    /// goaway
    uint32_t goaway_reason;
    akc_bytes goaway_message;
    /// settings
    uint32_t protocol_version;
    uint32_t max_frame_size;
    uint32_t max_concurrent_calls;
    uint32_t idle_timeout_millis;
    uint32_t keepalive_interval_millis;
    akc_bytes server_name;
    /// Owned memory of a decoded frame; NULL for frames built by the caller.
    void *internal;
} akc_frame;

/// Checks the 8-byte connection preface. AKC_NEED_MORE until 8 bytes are there
/// (but AKC_BAD_MAGIC as soon as a byte is wrong).
akc_status akc_preface_check(const uint8_t *bytes, size_t available, uint8_t *version_out);
/// Writes the 8-byte preface for AKC_PROTOCOL_VERSION.
void akc_preface_write(uint8_t *out);

/// Reads a frame's length prefix: AKC_NEED_MORE with fewer than 4 bytes,
/// AKC_TOO_LARGE when the declared length exceeds max_frame_size, else AKC_OK.
akc_status akc_frame_length(const uint8_t *bytes, size_t available, uint32_t max_frame_size,
                            uint32_t *length_out);

/// Decodes a frame body (the bytes after the length prefix). Unpacking may allocate
/// at most alloc_budget bytes; a hostile frame gets AKC_OVER_BUDGET instead.
/// On AKC_OK the caller must call akc_frame_release.
akc_status akc_frame_decode(const uint8_t *body, size_t length, size_t alloc_budget, akc_frame *out);
void akc_frame_release(akc_frame *frame);

/// Bytes akc_frame_encode will write, length prefix included; 0 for an invalid frame.
size_t akc_frame_encoded_size(const akc_frame *frame);
/// Writes the length prefix and body; returns the bytes written, 0 if the frame is
/// invalid or capacity is too small.
size_t akc_frame_encode(const akc_frame *frame, uint8_t *out, size_t capacity);

// ---------------------------------------------------------------------------
// Messages of proto/apikeys/v1, reached by full name and field number.

typedef struct akc_type akc_type;
typedef struct akc_message akc_message;
typedef struct akc_builder akc_builder;

/// The message type with this full name, e.g. "apikeys.v1.VerifyRequest"; NULL if none.
const akc_type *akc_type_named(const char *full_name);
/// A new, empty message; NULL when out of memory. Free with akc_message_free.
akc_message *akc_message_new(const akc_type *type);
akc_status akc_message_decode(const akc_type *type, const uint8_t *data, size_t length,
                              size_t alloc_budget, akc_message **out);
void akc_message_free(akc_message *message);
/// A decoded message that is only read, then dropped whole: it and everything it points
/// to live in one arena (one allocation for a small message). Never pass it to a setter.
typedef struct akc_message_view {
    const akc_message *message;
    void *internal;
} akc_message_view;
/// Like akc_message_decode; on AKC_OK the caller must call akc_message_view_release.
akc_status akc_message_view_decode(const akc_type *type, const uint8_t *data, size_t length,
                                   size_t alloc_budget, akc_message_view *out);
void akc_message_view_release(akc_message_view *view);
size_t akc_message_encoded_size(const akc_message *message);
size_t akc_message_encode(const akc_message *message, uint8_t *out);

// Reading. A missing field, or one of another type, reads as zero or empty.
/// Whether a oneof member or sub-message field is set.
bool akc_has(const akc_message *message, uint32_t field);
/// uint32, uint64, fixed, bool.
uint64_t akc_get_uint(const akc_message *message, uint32_t field);
/// int32, int64, sint, sfixed, enum.
int64_t akc_get_int(const akc_message *message, uint32_t field);
/// string or bytes.
akc_bytes akc_get_bytes(const akc_message *message, uint32_t field);
/// A sub-message; NULL when not set.
const akc_message *akc_get_message(const akc_message *message, uint32_t field);
/// Number of elements of a repeated field.
size_t akc_count(const akc_message *message, uint32_t field);
uint64_t akc_get_uint_at(const akc_message *message, uint32_t field, size_t index);
int64_t akc_get_int_at(const akc_message *message, uint32_t field, size_t index);
akc_bytes akc_get_bytes_at(const akc_message *message, uint32_t field, size_t index);
const akc_message *akc_get_message_at(const akc_message *message, uint32_t field, size_t index);

/// A message built to be encoded and then dropped whole: the message, its sub-messages and
/// every value set on them live in one arena (one allocation for a small message), freed by
/// akc_builder_free. *message_out is the empty message; NULL when out of memory.
akc_builder *akc_builder_new(const akc_type *type, akc_message **message_out);
void akc_builder_free(akc_builder *builder);

// Writing. Values are copied. A oneof member that is set becomes the oneof's case.
// `builder` is the builder the message came from, or NULL for a message of
// akc_message_new or akc_message_decode (whose values are malloc'd and freed one by one).
akc_status akc_set_uint(akc_builder *builder, akc_message *message, uint32_t field, uint64_t value);
akc_status akc_set_int(akc_builder *builder, akc_message *message, uint32_t field, int64_t value);
akc_status akc_set_bytes(akc_builder *builder, akc_message *message, uint32_t field, const uint8_t *data, size_t length);
/// The sub-message of this field, created empty when absent; NULL on error.
akc_message *akc_set_message(akc_builder *builder, akc_message *message, uint32_t field);
akc_status akc_add_uint(akc_builder *builder, akc_message *message, uint32_t field, uint64_t value);
akc_status akc_add_int(akc_builder *builder, akc_message *message, uint32_t field, int64_t value);
akc_status akc_add_bytes(akc_builder *builder, akc_message *message, uint32_t field, const uint8_t *data, size_t length);
/// Appends an empty sub-message to a repeated field (or map) and returns it.
akc_message *akc_add_message(akc_builder *builder, akc_message *message, uint32_t field);

// ---------------------------------------------------------------------------
// The schema of proto/apikeys/v1 as protoc-c describes it: services, methods, message
// fields and enums, for tools that work from descriptors at run time (`apikeys call`).
// Every pointer refers to static data, valid for the life of the process.

typedef struct akc_service akc_service;
typedef struct akc_enum akc_enum;

/// A field's protobuf type; the values are protobuf-c's ProtobufCType.
typedef enum akc_field_type {
    AKC_FIELD_INT32 = 0,
    AKC_FIELD_SINT32 = 1,
    AKC_FIELD_SFIXED32 = 2,
    AKC_FIELD_INT64 = 3,
    AKC_FIELD_SINT64 = 4,
    AKC_FIELD_SFIXED64 = 5,
    AKC_FIELD_UINT32 = 6,
    AKC_FIELD_FIXED32 = 7,
    AKC_FIELD_UINT64 = 8,
    AKC_FIELD_FIXED64 = 9,
    AKC_FIELD_FLOAT = 10,
    AKC_FIELD_DOUBLE = 11,
    AKC_FIELD_BOOL = 12,
    AKC_FIELD_ENUM = 13,
    AKC_FIELD_STRING = 14,
    AKC_FIELD_BYTES = 15,
    AKC_FIELD_MESSAGE = 16,
} akc_field_type;

typedef struct akc_field {
    /// As written in the .proto file, e.g. "expires_at_ms".
    const char *name;
    uint32_t number;
    akc_field_type type;
    bool repeated;
    /// 0, or the same nonzero value for every member of one oneof (protoc-c keeps no
    /// oneof names); a member that is set is present whatever its value.
    uint32_t oneof;
    /// AKC_FIELD_MESSAGE: the field's message type.
    const akc_type *message_type;
    /// AKC_FIELD_ENUM: the field's enum.
    const akc_enum *enum_type;
} akc_field;

size_t akc_service_count(void);
/// NULL past the end.
const akc_service *akc_service_at(size_t index);
/// The full name, e.g. "apikeys.v1.Keys".
const char *akc_service_name(const akc_service *service);
size_t akc_method_count(const akc_service *service);
/// The method's name, e.g. "Generate"; NULL past the end.
const char *akc_method_name(const akc_service *service, size_t index);
const akc_type *akc_method_input(const akc_service *service, size_t index);
const akc_type *akc_method_output(const akc_service *service, size_t index);

size_t akc_type_count(void);
/// NULL past the end.
const akc_type *akc_type_at(size_t index);
/// The full name, e.g. "apikeys.v1.ApiKey".
const char *akc_type_name(const akc_type *type);
/// Fields in field-number order.
size_t akc_field_count(const akc_type *type);
/// False past the end.
bool akc_field_at(const akc_type *type, size_t index, akc_field *out);

/// The full name, e.g. "apikeys.v1.KeyStatus".
const char *akc_enum_name(const akc_enum *enum_type);
/// Values in numeric order.
size_t akc_enum_value_count(const akc_enum *enum_type);
/// NULL past the end.
const char *akc_enum_value_name(const akc_enum *enum_type, size_t index);
int32_t akc_enum_value_number(const akc_enum *enum_type, size_t index);

#ifdef __cplusplus
}
#endif

#endif
