// Checks the string fields of encoded protobuf bytes before protobuf-c unpacks them:
// protobuf-c copies strings without checking UTF-8 and Swift reads them up to the first
// NUL, so a string that is not valid UTF-8, or holds a NUL, is refused instead.
#ifndef AKC_STRINGS_H
#define AKC_STRINGS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/// 0 when every string field (recursively, through sub-messages and map entries) is valid
/// UTF-8 without NUL; 1 when one is not. Bytes that are not protobuf at all pass: unpacking
/// reports those.
int akc_has_bad_string(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t length);

#endif
