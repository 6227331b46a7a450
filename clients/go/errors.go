package apikeys

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"apikeys/clients/go/apikeysv1"
)

// Code is a call's status code: gRPC's codes, same names and numbers (Code in frame.proto).
type Code uint32

// The status codes. The server produces the ones docs/PROTOCOL.md §3 lists; the client
// adds CANCELLED and DEADLINE_EXCEEDED from the caller's context, and UNAVAILABLE when
// no connection could be made.
const (
	OK                 = Code(apikeysv1.Code_OK)
	Canceled           = Code(apikeysv1.Code_CANCELLED)
	Unknown            = Code(apikeysv1.Code_UNKNOWN)
	InvalidArgument    = Code(apikeysv1.Code_INVALID_ARGUMENT)
	DeadlineExceeded   = Code(apikeysv1.Code_DEADLINE_EXCEEDED)
	NotFound           = Code(apikeysv1.Code_NOT_FOUND)
	AlreadyExists      = Code(apikeysv1.Code_ALREADY_EXISTS)
	PermissionDenied   = Code(apikeysv1.Code_PERMISSION_DENIED)
	ResourceExhausted  = Code(apikeysv1.Code_RESOURCE_EXHAUSTED)
	FailedPrecondition = Code(apikeysv1.Code_FAILED_PRECONDITION)
	Aborted            = Code(apikeysv1.Code_ABORTED)
	OutOfRange         = Code(apikeysv1.Code_OUT_OF_RANGE)
	Unimplemented      = Code(apikeysv1.Code_UNIMPLEMENTED)
	Internal           = Code(apikeysv1.Code_INTERNAL)
	Unavailable        = Code(apikeysv1.Code_UNAVAILABLE)
	DataLoss           = Code(apikeysv1.Code_DATA_LOSS)
	Unauthenticated    = Code(apikeysv1.Code_UNAUTHENTICATED)
)

func (c Code) String() string { return apikeysv1.Code(c).String() }

// Error is the only error type the client returns: every failure, from the server's
// status to a refused connection, carries a Code.
type Error struct {
	Code    Code
	Message string
	// Rule and Reason come from the server's ErrorDetails when it refused the call
	// (e.g. Rule "R17", Reason "no_license"); empty otherwise.
	Rule   string
	Reason string

	cause error
	// fate says whether the server may have run the call; it decides retries.
	fate callFate
}

// callFate: what is known about whether the server ran a failed call.
type callFate uint8

const (
	ranOrRefused callFate = iota // the server answered: never retried
	notSent                      // the request never left this client
	notRun                       // the server said it will not run it (above GoAway's last_call_id)
	maybeRun                     // the connection ended before an answer: retried only if idempotent
	permanent                    // a failure no retry can fix (e.g. the server's certificate)
)

func (e *Error) Error() string {
	s := fmt.Sprintf("apikeys: %s: %s", e.Code, e.Message)
	if e.Rule != "" || e.Reason != "" {
		s += fmt.Sprintf(" [rule %q, reason %q]", e.Rule, e.Reason)
	}
	return s
}

// Unwrap gives the underlying cause, when there is one (a context or network error).
func (e *Error) Unwrap() error { return e.cause }

// CodeOf returns err's status code: OK for nil, Unknown for an error not from this package.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Unknown
}

func statusError(st *apikeysv1.Status) *Error {
	e := &Error{Code: Code(st.GetCode()), Message: st.GetMessage()}
	if len(st.GetDetails()) > 0 {
		var d apikeysv1.ErrorDetails
		if proto.Unmarshal(st.GetDetails(), &d) == nil {
			e.Rule, e.Reason = d.GetRule(), d.GetReason()
		}
	}
	return e
}

// contextError maps the caller's context ending to CANCELLED or DEADLINE_EXCEEDED.
func contextError(ctx context.Context, what string) *Error {
	err := ctx.Err()
	if err == nil {
		// The deadline read from the clock has passed, and the context's own timer has
		// not fired yet: it is the deadline all the same.
		err = context.DeadlineExceeded
	}
	code := Canceled
	if errors.Is(err, context.DeadlineExceeded) {
		code = DeadlineExceeded
	}
	return &Error{Code: code, Message: what + ": " + err.Error(), cause: err}
}
