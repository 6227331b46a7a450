package apikeys

// A CallOption sets metadata of a call (or of every call, through WithDefaults).
type CallOption func(*callOptions)

type callOptions struct {
	authorization *string
	tenant, user  *string
	metadata      map[string]string
}

func (o callOptions) with(opts []CallOption) callOptions {
	if len(opts) == 0 {
		return o
	}
	o.metadata = copyMap(o.metadata)
	for _, f := range opts {
		f(&o)
	}
	return o
}

func (o callOptions) build() map[string]string {
	md := copyMap(o.metadata)
	set := func(k string, v *string) {
		if v != nil && *v != "" {
			md[k] = *v
		} else if v != nil {
			delete(md, k)
		}
	}
	set("authorization", o.authorization)
	set("x-tenant-id", o.tenant)
	set("x-user-id", o.user)
	return md
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Bearer is the authorization of a call made as the owner of an API key.
func Bearer(apiKeySecret string) CallOption { return WithAuthorization("Bearer " + apiKeySecret) }

// Service is the authorization of a trusted internal service (Verify alone, or acting
// for a user with ActingFor).
func Service(credentialSecret string) CallOption {
	return WithAuthorization("Service " + credentialSecret)
}

// Operator is the authorization of the operator (provisioning).
func Operator(credentialSecret string) CallOption {
	return WithAuthorization("Operator " + credentialSecret)
}

// WithAuthorization sets the authorization metadata as it is; "" sends none (e.g. to use
// a mutual-TLS certificate's identity).
func WithAuthorization(value string) CallOption {
	return func(o *callOptions) { o.authorization = &value }
}

// ActingFor makes a Service caller act for a user of a tenant (x-tenant-id, x-user-id);
// empty strings send neither.
func ActingFor(tenant, user string) CallOption {
	return func(o *callOptions) { o.tenant, o.user = &tenant, &user }
}

// WithMetadata adds one metadata entry (keys are lower-case ASCII).
func WithMetadata(key, value string) CallOption {
	return func(o *callOptions) {
		if o.metadata == nil {
			o.metadata = map[string]string{}
		}
		o.metadata[key] = value
	}
}
