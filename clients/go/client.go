package apikeys

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"apikeys/clients/go/apikeysv1"
)

// Client calls apikeysd over the apikeys RPC protocol (docs/PROTOCOL.md). It is safe for
// concurrent use and meant to live as long as the program: it connects lazily, keeps a
// small pool of multiplexed connections, replaces a connection the server sends GoAway
// on or that breaks, reconnects with jittered exponential backoff, and retries calls the
// server did not run. Close it when done.
type Client struct {
	addr string
	o    options

	ctx    context.Context // ended by Close: stops dials and keepalives
	cancel context.CancelFunc

	mu     sync.Mutex
	slots  []*slot
	rr     uint32
	closed bool

	dials   atomic.Int64
	retries atomic.Int64
}

// slot is one place in the pool: its current connection and its reconnect state.
type slot struct {
	conn     *conn
	dialing  chan struct{} // non-nil while a dial runs; closed when it ends
	failures int           // consecutive failed dials
	retryAt  time.Time     // no dial before this (backoff)
	lastErr  *Error
}

type options struct {
	tls              *tls.Config
	poolSize         int
	handshakeTimeout time.Duration
	connectWait      time.Duration
	backoffBase      time.Duration
	backoffMax       time.Duration
	keepalive        time.Duration
	call             callOptions
}

// An Option configures a Client.
type Option func(*options)

// WithTLS connects with TLS using cfg (its ServerName defaults to the address's host).
// For mutual TLS put the client certificate in cfg.Certificates.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithPoolSize sets how many connections the client spreads calls over (default 2).
func WithPoolSize(n int) Option { return func(o *options) { o.poolSize = n } }

// WithHandshakeTimeout bounds connect, TLS handshake, preface and the server's settings
// frame together (default 10 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *options) { o.handshakeTimeout = d }
}

// WithConnectWait bounds how long a call waits for a connection while the server is
// unreachable (default 20 s; the call's context may end it sooner). Long enough to ride
// out a server restart.
func WithConnectWait(d time.Duration) Option { return func(o *options) { o.connectWait = d } }

// WithBackoff sets the reconnect backoff: the first retry after about base, doubling up
// to max, each delay jittered (defaults 50 ms and 1 s: a restarted server is found
// within about a second, and a dead one costs one dial a second per pool slot).
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) { o.backoffBase, o.backoffMax = base, max }
}

// WithKeepalive pings each connection every d and drops one whose pong does not come
// within d, so a dead peer is noticed (default 30 s; 0 turns it off).
func WithKeepalive(d time.Duration) Option { return func(o *options) { o.keepalive = d } }

// WithDefaults applies call options to every call of the client (a credential, acting
// for a user); a call's own options come after them.
func WithDefaults(opts ...CallOption) Option {
	return func(o *options) {
		for _, f := range opts {
			f(&o.call)
		}
	}
}

// New returns a client of the server at addr ("host:port"). It connects on first use;
// call Connect to fail early on a wrong address.
func New(addr string, opts ...Option) (*Client, error) {
	o := options{poolSize: 2, handshakeTimeout: 10 * time.Second, connectWait: 20 * time.Second,
		backoffBase: 50 * time.Millisecond, backoffMax: time.Second, keepalive: 30 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	if o.poolSize < 1 || o.handshakeTimeout <= 0 || o.backoffBase <= 0 || o.backoffMax < o.backoffBase {
		return nil, &Error{Code: InvalidArgument, Message: "pool size, handshake timeout and backoff must be positive"}
	}
	if err := checkMetadata(o.call.metadata); err != nil {
		return nil, err
	}
	c := &Client{addr: addr, o: o, slots: make([]*slot, o.poolSize)}
	for i := range c.slots {
		c.slots[i] = &slot{}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if o.keepalive > 0 {
		go c.keepalive()
	}
	return c, nil
}

// Connect makes sure one connection is up (waiting as a call would).
func (c *Client) Connect(ctx context.Context) error {
	_, err := c.pick(ctx)
	if err != nil {
		return err
	}
	return nil
}

// Close closes every connection; calls still running fail with CANCELLED.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var conns []*conn
	for _, s := range c.slots {
		if s.conn != nil {
			conns = append(conns, s.conn)
		}
	}
	c.mu.Unlock()
	c.cancel()
	for _, cn := range conns {
		cn.close()
	}
	return nil
}

// Stats are counters for monitoring and tests.
type Stats struct {
	Dials       int64   // connections opened
	Retries     int64   // calls sent again after the server did not run them or a connection broke
	Open        int     // connections open now that take new calls
	CallsByConn []int64 // calls sent on each pool slot's current connection
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Dials: c.dials.Load(), Retries: c.retries.Load()}
	for _, s := range c.slots {
		var n int64
		if s.conn != nil {
			n = s.conn.started.Load()
			if s.conn.usable() {
				st.Open++
			}
		}
		st.CallsByConn = append(st.CallsByConn, n)
	}
	return st
}

// Ping sends a Ping on one connection and returns the round trip.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	cn, err := c.pick(ctx)
	if err != nil {
		return 0, err
	}
	d, e := cn.ping(ctx)
	if e != nil {
		return 0, e
	}
	return d, nil
}

// ServerSettings returns the limits the server announced on one connection (connecting
// if needed).
func (c *Client) ServerSettings(ctx context.Context) (*apikeysv1.ServerSettings, error) {
	cn, err := c.pick(ctx)
	if err != nil {
		return nil, err
	}
	return proto.Clone(cn.settings).(*apikeysv1.ServerSettings), nil
}

// Invoke runs the call method (a path such as MethodKeysGenerate) with in as its request
// and decodes the response into out. The generated typed methods call it.
//
// The deadline is ctx's: sent to the server and enforced here. When ctx ends first the
// server is told to stop the call (Cancel) and the error is CANCELLED or
// DEADLINE_EXCEEDED. A call the server did not run (it sent GoAway first, or no
// connection could be made) is sent again on another connection, whatever the method;
// a call cut off by a broken connection is sent again only if the method's
// idempotency_level in proto/ says that is safe.
func (c *Client) Invoke(ctx context.Context, method string, in, out proto.Message, opts ...CallOption) error {
	if ctx.Err() != nil {
		return contextError(ctx, method+" not sent")
	}
	co := c.o.call.with(opts)
	md := co.build()
	if err := checkMetadata(md); err != nil {
		return err
	}
	if err := checkLocally(method, in); err != nil {
		return err
	}
	payload, err := proto.Marshal(in)
	if err != nil {
		return &Error{Code: InvalidArgument, Message: "cannot encode the request: " + err.Error(), cause: err}
	}
	retry := methodsByPath[method].Retry
	for attempt := 1; ; attempt++ {
		cn, err := c.pick(ctx)
		if err != nil {
			return err
		}
		resp, e := cn.roundTrip(ctx, method, md, payload)
		if e == nil {
			if st := resp.GetStatus(); st.GetCode() != apikeysv1.Code_OK {
				return statusError(st)
			}
			if err := proto.Unmarshal(resp.GetMessage(), out); err != nil {
				return &Error{Code: Internal, Message: fmt.Sprintf("cannot decode the response to %s: %v", method, err), cause: err}
			}
			return nil
		}
		again := e.fate == notSent || e.fate == notRun || (e.fate == maybeRun && retry != NotIdempotent)
		if again && ctx.Err() != nil {
			// It would have been resent, but the caller's time is up.
			ce := contextError(ctx, method)
			ce.Message += " (" + e.Message + ")"
			return ce
		}
		if !again || attempt >= maxAttempts {
			return e
		}
		c.retries.Add(1)
	}
}

// maxAttempts stops a loop against a server that keeps refusing every connection's
// calls; restarts need one or two.
const maxAttempts = 10

// pick returns a connection that takes calls, round robin over the pool, dialing empty
// slots as it passes them; with none up it waits for a dial (with backoff after
// failures) until ctx ends or the connect wait passes.
func (c *Client) pick(ctx context.Context) (*conn, error) {
	var waitUntil <-chan time.Time
	if c.o.connectWait > 0 {
		t := time.NewTimer(c.o.connectWait)
		defer t.Stop()
		waitUntil = t.C
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, &Error{Code: Canceled, Message: "client closed"}
		}
		n := len(c.slots)
		first := int(c.rr % uint32(n))
		c.rr++
		now := time.Now()
		var ready *conn
		var dialing chan struct{}
		var lastErr *Error
		wake := time.Duration(-1)
		for i := 0; i < n; i++ {
			s := c.slots[(first+i)%n]
			if s.conn.usable() {
				if ready == nil {
					ready = s.conn
				}
				continue
			}
			if s.dialing == nil && !now.Before(s.retryAt) && (i == 0 || ready == nil) {
				c.startDial(s)
			}
			if s.dialing != nil {
				dialing = s.dialing
			} else if d := s.retryAt.Sub(now); wake < 0 || d < wake {
				wake = d
			}
			if s.lastErr != nil && (lastErr == nil || s.lastErr.fate == permanent) {
				lastErr = s.lastErr
			}
		}
		c.mu.Unlock()
		if ready != nil {
			return ready, nil
		}
		if lastErr != nil && lastErr.fate == permanent && dialing == nil {
			return nil, lastErr
		}
		var timer *time.Timer
		var wakeUp <-chan time.Time
		if wake >= 0 {
			timer = time.NewTimer(wake)
			wakeUp = timer.C
		}
		select {
		case <-dialing:
		case <-wakeUp:
		case <-ctx.Done():
			e := contextError(ctx, "waiting for a connection to "+c.addr)
			if lastErr != nil {
				e.Message += " (last attempt: " + lastErr.Message + ")"
			}
			return nil, e
		case <-waitUntil:
			msg := fmt.Sprintf("no connection to %s within %v", c.addr, c.o.connectWait)
			if lastErr != nil {
				msg += " (last attempt: " + lastErr.Message + ")"
			}
			e := &Error{Code: Unavailable, Message: msg}
			if lastErr != nil {
				e.cause = lastErr
			}
			return nil, e
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// startDial dials slot s in the background; c.mu is held.
func (c *Client) startDial(s *slot) {
	done := make(chan struct{})
	s.dialing = done
	c.dials.Add(1)
	go func() {
		cn, err := dial(c.ctx, c.addr, c.o.tls, c.o.handshakeTimeout)
		c.mu.Lock()
		old := s.conn
		if err != nil {
			s.failures++
			s.retryAt = time.Now().Add(c.backoff(s.failures))
			s.lastErr = err
		} else {
			s.conn, s.failures, s.lastErr = cn, 0, nil
		}
		s.dialing = nil
		closed := c.closed
		c.mu.Unlock()
		close(done)
		if cn != nil && closed {
			cn.close()
		}
		// A replaced connection that drained (or broke) is closed; one still finishing
		// calls after GoAway is left to the server, which closes it when they are done.
		if cn != nil && old != nil && old.inFlight() == 0 {
			old.close()
		}
	}()
}

// backoff: base·2^(failures-1) capped at max, then jittered to between half and all of
// it, so clients cut off together do not reconnect together.
func (c *Client) backoff(failures int) time.Duration {
	d := c.o.backoffBase
	for i := 1; i < failures && d < c.o.backoffMax; i++ {
		d *= 2
	}
	if d > c.o.backoffMax {
		d = c.o.backoffMax
	}
	return d/2 + time.Duration(rand.Int63n(int64(d/2)+1))
}

// keepalive pings the open connections; one that does not answer is shut down, so its
// calls fail over and its slot redials (PROTOCOL.md §5).
func (c *Client) keepalive() {
	t := time.NewTicker(c.o.keepalive)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		var conns []*conn
		for _, s := range c.slots {
			if s.conn != nil {
				conns = append(conns, s.conn)
			}
		}
		c.mu.Unlock()
		for _, cn := range conns {
			go func(cn *conn) {
				ctx, cancel := context.WithTimeout(c.ctx, c.o.keepalive)
				defer cancel()
				if _, err := cn.ping(ctx); err != nil && c.ctx.Err() == nil && err.Code == DeadlineExceeded {
					cn.shutdown(&Error{Code: Unavailable, Message: "no pong within " + c.o.keepalive.String(), fate: maybeRun})
				}
			}(cn)
		}
	}
}

// checkLocally refuses what the server would refuse anyway, without a round trip: a
// secret to verify that is not shaped like an API key (a typo, a truncated paste). The
// error is the server's for such a key: UNAUTHENTICATED, reason "unknown".
func checkLocally(method string, in proto.Message) error {
	if req, ok := in.(*apikeysv1.VerifyRequest); ok && method == MethodVerificationVerify {
		if kind, ok := CheckSecret(req.GetSecret()); !ok || kind != APIKeySecret {
			return &Error{Code: Unauthenticated, Reason: "unknown",
				Message: "the API key is not recognised: wrong length, prefix, characters or checksum (checked by the client)"}
		}
	}
	return nil
}

// checkMetadata: keys lower-case ASCII, values without NUL (§4).
func checkMetadata(md map[string]string) error {
	for k, v := range md {
		if k == "" || strings.ToLower(k) != k || strings.IndexFunc(k, func(r rune) bool { return r > 127 }) >= 0 {
			return &Error{Code: InvalidArgument, Message: fmt.Sprintf("metadata key %q is not lower-case ASCII", k)}
		}
		if strings.IndexByte(v, 0) >= 0 {
			return &Error{Code: InvalidArgument, Message: fmt.Sprintf("metadata value of %q holds NUL", k)}
		}
	}
	return nil
}
