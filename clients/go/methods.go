package apikeys

// Retry is how safely a method may be sent again when a connection ends before its
// answer came: the method's idempotency_level option in proto/.
type Retry uint8

const (
	// NotIdempotent methods are retried only when the server cannot have run them.
	NotIdempotent Retry = iota
	// Idempotent methods may run twice with the same result (Verify counts a use twice).
	Idempotent
	// NoSideEffects methods only read.
	NoSideEffects
)

// MethodDesc describes one RPC of proto/ (Methods, generated, lists them all).
type MethodDesc struct {
	Path    string // "/apikeys.v1.Keys/Generate"
	Service string // "apikeys.v1.Keys"
	Name    string // "Generate"
	Input   string // the request message's full name
	Output  string // the response message's full name
	Retry   Retry
}

var methodsByPath = func() map[string]MethodDesc {
	m := make(map[string]MethodDesc, len(Methods))
	for _, d := range Methods {
		m[d.Path] = d
	}
	return m
}()
