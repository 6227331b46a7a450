package apikeys

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"apikeys/clients/go/apikeysv1"
)

// preface opens every connection: "APIKEYS" and protocol version 1 (PROTOCOL.md §1).
var preface = []byte("APIKEYS\x01")

const defaultMaxFrameSize = 4 << 20

// conn is one multiplexed connection: calls share it, each under its own call ID,
// answered in any order (PROTOCOL.md §2, §3).
type conn struct {
	nc       net.Conn
	settings *apikeysv1.ServerSettings
	// slots bounds calls in flight to the server's max_concurrent_calls, so a busy
	// client waits here instead of getting RESOURCE_EXHAUSTED.
	slots chan struct{}

	// wmu orders call IDs with writes: IDs must reach the server strictly increasing.
	wmu sync.Mutex
	bw  *bufio.Writer

	mu       sync.Mutex
	nextID   uint64
	pending  map[uint64]chan result
	pings    map[uint64]chan struct{}
	draining bool
	closed   bool
	closeErr *Error
	done     chan struct{}

	pingData atomic.Uint64
	started  atomic.Int64 // calls sent on this connection
}

type result struct {
	resp *apikeysv1.Response
	err  *Error
}

// handshakeError is an Error for a connection that could not be set up: no call was sent.
func handshakeError(addr string, err error) *Error {
	fate := notSent
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		fate = permanent // retrying will not make the certificate acceptable
	}
	return &Error{Code: Unavailable, Message: fmt.Sprintf("connect to %s: %v", addr, err), cause: err, fate: fate}
}

// dial connects, sends the preface and waits for the server's settings, all within
// handshakeTimeout (or ctx).
func dial(ctx context.Context, addr string, tlsConfig *tls.Config, handshakeTimeout time.Duration) (*conn, *Error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, handshakeError(addr, err)
	}
	fail := func(err error) (*conn, *Error) {
		nc.Close()
		var ne net.Error
		if (ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("handshake timeout (%v): %w", handshakeTimeout, err)
		}
		return nil, handshakeError(addr, err)
	}
	// The deadline bounds every step below: a listener that never answers costs
	// handshakeTimeout, not a hung call.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	if tlsConfig != nil {
		cfg := tlsConfig.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		nc = tc
	}
	if _, err := nc.Write(preface); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	frame, err := readFrame(br, defaultMaxFrameSize)
	if err != nil {
		return fail(fmt.Errorf("no settings from the server: %w", err))
	}
	switch k := frame.Kind.(type) {
	case *apikeysv1.Frame_Settings:
		c := &conn{
			nc:       nc,
			settings: k.Settings,
			bw:       bufio.NewWriterSize(nc, 64<<10),
			pending:  make(map[uint64]chan result),
			pings:    make(map[uint64]chan struct{}),
			done:     make(chan struct{}),
		}
		max := int(k.Settings.GetMaxConcurrentCalls())
		if max <= 0 {
			max = 100
		}
		c.slots = make(chan struct{}, max)
		nc.SetDeadline(time.Time{})
		go c.readLoop(br)
		return c, nil
	case *apikeysv1.Frame_Goaway: // e.g. GOAWAY_TOO_MANY_CONNECTIONS
		return fail(fmt.Errorf("server sent GoAway %s: %s", k.Goaway.GetReason(), k.Goaway.GetMessage()))
	default:
		return fail(fmt.Errorf("server sent %T before its settings", frame.Kind))
	}
}

func (c *conn) maxFrameSize() int {
	if n := c.settings.GetMaxFrameSize(); n > 0 {
		return int(n)
	}
	return defaultMaxFrameSize
}

// usable: open and not draining after a GoAway, so it may take new calls.
func (c *conn) usable() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && !c.draining
}

func (c *conn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

func readFrame(br *bufio.Reader, max int) (*apikeysv1.Frame, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(br, prefix[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("frame of %d bytes is above max_frame_size %d", n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	frame := new(apikeysv1.Frame)
	if err := proto.Unmarshal(body, frame); err != nil {
		return nil, fmt.Errorf("undecodable frame: %w", err)
	}
	if frame.Kind == nil {
		return nil, errors.New("frame with no kind")
	}
	return frame, nil
}

// writeFrame sends one frame by deadline (zero: none); the caller holds wmu. A write
// that times out may have sent part of the frame: the caller must shut the connection.
func (c *conn) writeFrame(f *apikeysv1.Frame, deadline time.Time) error {
	body, err := proto.Marshal(f)
	if err != nil {
		return err
	}
	c.nc.SetWriteDeadline(deadline)
	var prefix [4]byte
	binary.BigEndian.PutUint32(prefix[:], uint32(len(body)))
	c.bw.Write(prefix[:])
	c.bw.Write(body)
	return c.bw.Flush()
}

func (c *conn) send(f *apikeysv1.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeFrame(f, time.Time{})
}

func (c *conn) readLoop(br *bufio.Reader) {
	max := c.maxFrameSize()
	if max < defaultMaxFrameSize {
		max = defaultMaxFrameSize
	}
	for {
		frame, err := readFrame(br, max)
		if err != nil {
			msg := "connection closed by the server"
			if !errors.Is(err, io.EOF) {
				msg = "connection lost: " + err.Error()
			}
			c.shutdown(&Error{Code: Unavailable, Message: msg, cause: err, fate: maybeRun})
			return
		}
		switch k := frame.Kind.(type) {
		case *apikeysv1.Frame_Response:
			c.mu.Lock()
			ch := c.pending[k.Response.GetCallId()]
			delete(c.pending, k.Response.GetCallId())
			c.mu.Unlock()
			if ch != nil { // else a call given up on (cancelled, timed out): dropped
				ch <- result{resp: k.Response}
			}
		case *apikeysv1.Frame_Ping:
			// Keepalive (§5): unanswered pings make the server close the connection.
			c.send(&apikeysv1.Frame{Kind: &apikeysv1.Frame_Pong{Pong: &apikeysv1.Pong{Data: k.Ping.GetData()}}})
		case *apikeysv1.Frame_Pong:
			c.mu.Lock()
			if ch := c.pings[k.Pong.GetData()]; ch != nil {
				close(ch)
				delete(c.pings, k.Pong.GetData())
			}
			c.mu.Unlock()
		case *apikeysv1.Frame_Goaway:
			c.onGoAway(k.Goaway)
		case *apikeysv1.Frame_Settings:
			// Sent once, first; dial read it.
		default:
			c.shutdown(&Error{Code: Internal, Message: fmt.Sprintf("the server broke the protocol: it sent %T", frame.Kind), fate: maybeRun})
			return
		}
	}
}

// onGoAway: no new calls here; calls above last_call_id were not run and are failed at
// once so the client retries them on another connection (§5).
func (c *conn) onGoAway(g *apikeysv1.GoAway) {
	c.mu.Lock()
	c.draining = true
	var notRunCalls []chan result
	for id, ch := range c.pending {
		if id > g.GetLastCallId() {
			notRunCalls = append(notRunCalls, ch)
			delete(c.pending, id)
		}
	}
	c.mu.Unlock()
	for _, ch := range notRunCalls {
		ch <- result{err: &Error{Code: Unavailable, fate: notRun,
			Message: fmt.Sprintf("server sent GoAway %s (%s) before running the call", g.GetReason(), g.GetMessage())}}
	}
}

// shutdown closes the connection and fails every call still waiting with err.
func (c *conn) shutdown(err *Error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = err
	pending, pings := c.pending, c.pings
	c.pending, c.pings = map[uint64]chan result{}, map[uint64]chan struct{}{}
	c.mu.Unlock()
	c.nc.Close()
	for _, ch := range pending {
		ch <- result{err: err}
	}
	for _, ch := range pings {
		close(ch)
	}
	close(c.done)
}

// roundTrip sends one request and waits for its response, ctx's end (then it sends
// Cancel), or the connection's end.
func (c *conn) roundTrip(ctx context.Context, method string, md map[string]string, payload []byte) (*apikeysv1.Response, *Error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, contextError(ctx, "waiting for a free call slot")
	case <-c.done:
		return nil, &Error{Code: Unavailable, Message: "connection closed", fate: notSent}
	}
	defer func() { <-c.slots }()

	ch := make(chan result, 1)
	c.wmu.Lock()
	c.mu.Lock()
	if c.closed || c.draining {
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, &Error{Code: Unavailable, Message: "connection is closing", fate: notSent}
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	req := &apikeysv1.Request{CallId: id, Method: method, Metadata: md, Message: payload}
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		left := time.Until(deadline)
		if left <= 0 {
			c.forget(id)
			c.wmu.Unlock()
			return nil, contextError(ctx, "deadline passed before the call was sent")
		}
		req.TimeoutMicros = uint64(left.Microseconds()) + 1
	}
	frame := &apikeysv1.Frame{Kind: &apikeysv1.Frame_Request{Request: req}}
	if size := proto.Size(frame); size > c.maxFrameSize() {
		c.forget(id)
		c.wmu.Unlock()
		return nil, &Error{Code: ResourceExhausted,
			Message: fmt.Sprintf("request frame of %d bytes is above the server's max_frame_size %d", size, c.maxFrameSize())}
	}
	// The deadline also bounds the write: a server that stopped reading cannot hold the
	// call past it.
	err := c.writeFrame(frame, deadline)
	c.wmu.Unlock()
	c.started.Add(1)
	if err != nil {
		// Part of the request may have left: the server may run it.
		c.shutdown(&Error{Code: Unavailable, Message: "connection lost: " + err.Error(), cause: err, fate: maybeRun})
		if ctx.Err() != nil {
			<-ch
			return nil, contextError(ctx, method)
		}
	}

	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		if c.forget(id) {
			// Tell the server to stop the work (§3 Cancel); it sends no response.
			go c.send(&apikeysv1.Frame{Kind: &apikeysv1.Frame_Cancel{Cancel: &apikeysv1.Cancel{CallId: id}}})
		}
		return nil, contextError(ctx, method)
	}
}

// forget removes a pending call; false if it was already answered or failed.
func (c *conn) forget(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[id]
	delete(c.pending, id)
	return ok
}

// ping sends a Ping and waits for its Pong.
func (c *conn) ping(ctx context.Context) (time.Duration, *Error) {
	data := c.pingData.Add(1)
	ch := make(chan struct{})
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, &Error{Code: Unavailable, Message: "connection closed", fate: notSent}
	}
	c.pings[data] = ch
	c.mu.Unlock()
	start := time.Now()
	if err := c.send(&apikeysv1.Frame{Kind: &apikeysv1.Frame_Ping{Ping: &apikeysv1.Ping{Data: data}}}); err != nil {
		c.shutdown(&Error{Code: Unavailable, Message: "connection lost: " + err.Error(), cause: err, fate: maybeRun})
	}
	select {
	case <-ch:
		c.mu.Lock()
		closed, err := c.closed, c.closeErr
		c.mu.Unlock()
		if closed && err != nil {
			return 0, err
		}
		return time.Since(start), nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pings, data)
		c.mu.Unlock()
		return 0, contextError(ctx, "ping")
	}
}

// close sends GoAway (no more calls from this client) and closes at once: the client
// only closes connections it no longer uses.
func (c *conn) close() {
	c.mu.Lock()
	last := c.nextID
	c.draining = true
	c.mu.Unlock()
	sent := make(chan struct{})
	go func() { // best effort: a write stuck behind a full socket is ended by the close
		defer close(sent)
		c.wmu.Lock()
		defer c.wmu.Unlock()
		goaway := &apikeysv1.Frame{Kind: &apikeysv1.Frame_Goaway{Goaway: &apikeysv1.GoAway{LastCallId: last}}}
		c.writeFrame(goaway, time.Now().Add(100*time.Millisecond))
	}()
	select {
	case <-sent:
	case <-time.After(100 * time.Millisecond):
	}
	c.shutdown(&Error{Code: Canceled, Message: "client closed", fate: ranOrRefused})
}
