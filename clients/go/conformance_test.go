package apikeys_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	apikeys "apikeys/clients/go"
	"apikeys/clients/go/apikeysv1"
)

// The call cases of apikeys-conformance (Sources/APIKeysConformance/CallCases.swift),
// made through this client.

func TestConformanceEmptyAndMetadataEcho(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t)
	ctx := ctxFor(t, 5*time.Second)
	if _, err := c.Conformance().Empty(ctx, &apikeysv1.EmptyMessage{}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{EchoMetadata: true},
		apikeys.WithMetadata("x-test", "value ☺"), apikeys.WithMetadata("x-other", ""))
	if err != nil {
		t.Fatal(err)
	}
	if md := resp.GetMetadata(); len(md) != 2 || md["x-test"] != "value ☺" || md["x-other"] != "" {
		t.Fatalf("metadata came back as %v", md)
	}
	_, err = c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{}, apikeys.WithMetadata("X-Upper", "v"))
	wantCode(t, err, apikeys.InvalidArgument, "")
}

func TestConformanceStatusRoundTripAndUnimplemented(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t)
	ctx := ctxFor(t, 5*time.Second)
	message := "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	_, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{StatusCode: 2, StatusMessage: message})
	if e := wantCode(t, err, apikeys.Unknown, ""); e.Message != message {
		t.Fatalf("message came back as %q", e.Message)
	}
	for _, path := range []string{"/apikeys.v1.Conformance/NoSuchMethod", "/apikeys.v1.NoSuchService/Method"} {
		err := c.Invoke(ctx, path, &apikeysv1.EmptyMessage{}, &apikeysv1.EmptyMessage{})
		wantCode(t, err, apikeys.Unimplemented, "")
	}
}

// A request frame of exactly max_frame_size goes through; one byte more is refused by
// the client (RESOURCE_EXHAUSTED), which keeps its connection; large responses arrive.
func TestConformanceFrameSizes(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t, apikeys.WithPoolSize(1))
	ctx := ctxFor(t, 30*time.Second)
	settings, err := c.ServerSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	max := int(settings.GetMaxFrameSize())
	// The frame of call 1 (the first on this connection), sent without a deadline.
	frameSize := func(payload int) int {
		msg, _ := proto.Marshal(&apikeysv1.EchoRequest{Payload: make([]byte, payload)})
		return proto.Size(&apikeysv1.Frame{Kind: &apikeysv1.Frame_Request{Request: &apikeysv1.Request{
			CallId: 1, Method: apikeys.MethodConformanceEcho, Message: msg}}})
	}
	n := max - 64
	for frameSize(n) != max {
		n += max - frameSize(n)
	}
	if _, err := c.Conformance().Echo(context.Background(), &apikeysv1.EchoRequest{Payload: make([]byte, n)}); err != nil {
		t.Fatalf("a frame of exactly %d bytes: %v", max, err)
	}
	_, err = c.Conformance().Echo(context.Background(), &apikeysv1.EchoRequest{Payload: make([]byte, n+1)})
	wantCode(t, err, apikeys.ResourceExhausted, "")
	resp, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{ResponseSize: 314159})
	if err != nil || len(resp.GetPayload()) != 314159 {
		t.Fatalf("sized response: %d bytes, %v", len(resp.GetPayload()), err)
	}
	if st := c.Stats(); st.Dials != 1 {
		t.Fatalf("the refused frame cost the connection: %+v", st)
	}
}

// 1000 calls at once on one connection: all answered, never more than the server's
// max_concurrent_calls in flight (the rest wait in the client, not RESOURCE_EXHAUSTED).
func TestConformance1000ConcurrentCalls(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t, apikeys.WithPoolSize(1))
	ctx := ctxFor(t, 60*time.Second)
	settings, err := c.ServerSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var maxSeen atomic.Uint32
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{SleepMillis: 10})
			if err != nil {
				t.Error(err)
				return
			}
			for n := resp.GetCallsInFlight(); ; {
				m := maxSeen.Load()
				if n <= m || maxSeen.CompareAndSwap(m, n) {
					break
				}
			}
		}()
	}
	wg.Wait()
	if m := maxSeen.Load(); m > settings.GetMaxConcurrentCalls() || m < 10 {
		t.Fatalf("at most %d calls ran at once; the limit is %d", m, settings.GetMaxConcurrentCalls())
	}
}

func TestConformance2000SequentialCalls(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t)
	ctx := ctxFor(t, 60*time.Second)
	for i := 0; i < 2000; i++ {
		if _, err := c.Conformance().Empty(ctx, &apikeysv1.EmptyMessage{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}
