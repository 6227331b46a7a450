// The descriptor walk behind akc_service_* and akc_field_at: protoc-c's static
// descriptors, handed out as opaque pointers so Swift sees no protobuf-c type.
#include "apikeys_codec.h"
#include "apikeys_types.inc"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

// akc_field_type is ProtobufCType under names that do not need protobuf-c's header.
_Static_assert(AKC_FIELD_INT32 == (int)PROTOBUF_C_TYPE_INT32, "akc_field_type");
_Static_assert(AKC_FIELD_UINT64 == (int)PROTOBUF_C_TYPE_UINT64, "akc_field_type");
_Static_assert(AKC_FIELD_BOOL == (int)PROTOBUF_C_TYPE_BOOL, "akc_field_type");
_Static_assert(AKC_FIELD_MESSAGE == (int)PROTOBUF_C_TYPE_MESSAGE, "akc_field_type");

static const ProtobufCServiceDescriptor *service_of(const akc_service *service) {
    return (const ProtobufCServiceDescriptor *)service;
}

static const ProtobufCMessageDescriptor *message_of(const akc_type *type) {
    return (const ProtobufCMessageDescriptor *)type;
}

static const ProtobufCEnumDescriptor *enum_of(const akc_enum *enum_type) {
    return (const ProtobufCEnumDescriptor *)enum_type;
}

size_t akc_service_count(void) { return COUNT(akc_all_services); }

const akc_service *akc_service_at(size_t index) {
    return index < COUNT(akc_all_services) ? (const akc_service *)akc_all_services[index] : NULL;
}

const char *akc_service_name(const akc_service *service) { return service_of(service)->name; }

size_t akc_method_count(const akc_service *service) { return service_of(service)->n_methods; }

static const ProtobufCMethodDescriptor *method_at(const akc_service *service, size_t index) {
    const ProtobufCServiceDescriptor *descriptor = service_of(service);
    return index < descriptor->n_methods ? &descriptor->methods[index] : NULL;
}

const char *akc_method_name(const akc_service *service, size_t index) {
    const ProtobufCMethodDescriptor *method = method_at(service, index);
    return method ? method->name : NULL;
}

const akc_type *akc_method_input(const akc_service *service, size_t index) {
    const ProtobufCMethodDescriptor *method = method_at(service, index);
    return method ? (const akc_type *)method->input : NULL;
}

const akc_type *akc_method_output(const akc_service *service, size_t index) {
    const ProtobufCMethodDescriptor *method = method_at(service, index);
    return method ? (const akc_type *)method->output : NULL;
}

size_t akc_type_count(void) { return COUNT(akc_all_types); }

const akc_type *akc_type_at(size_t index) {
    return index < COUNT(akc_all_types) ? (const akc_type *)akc_all_types[index] : NULL;
}

const char *akc_type_name(const akc_type *type) { return message_of(type)->name; }

size_t akc_field_count(const akc_type *type) { return message_of(type)->n_fields; }

bool akc_field_at(const akc_type *type, size_t index, akc_field *out) {
    const ProtobufCMessageDescriptor *descriptor = message_of(type);
    if (index >= descriptor->n_fields) return false;
    const ProtobufCFieldDescriptor *field = &descriptor->fields[index];
    out->name = field->name;
    out->number = field->id;
    out->type = (akc_field_type)field->type;
    out->repeated = field->label == PROTOBUF_C_LABEL_REPEATED;
    // Members of one oneof share the case word at quantifier_offset: its offset names the group.
    out->oneof = (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ? field->quantifier_offset + 1 : 0;
    out->message_type = field->type == PROTOBUF_C_TYPE_MESSAGE ? (const akc_type *)field->descriptor : NULL;
    out->enum_type = field->type == PROTOBUF_C_TYPE_ENUM ? (const akc_enum *)field->descriptor : NULL;
    return true;
}

const char *akc_enum_name(const akc_enum *enum_type) { return enum_of(enum_type)->name; }

size_t akc_enum_value_count(const akc_enum *enum_type) { return enum_of(enum_type)->n_values; }

const char *akc_enum_value_name(const akc_enum *enum_type, size_t index) {
    const ProtobufCEnumDescriptor *descriptor = enum_of(enum_type);
    return index < descriptor->n_values ? descriptor->values[index].name : NULL;
}

int32_t akc_enum_value_number(const akc_enum *enum_type, size_t index) {
    const ProtobufCEnumDescriptor *descriptor = enum_of(enum_type);
    return index < descriptor->n_values ? descriptor->values[index].value : 0;
}
