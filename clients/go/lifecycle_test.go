package apikeys_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apikeys "apikeys/clients/go"
	"apikeys/clients/go/apikeysv1"
)

// Graceful shutdown with calls in flight: the server finishes them (GoAway names the
// last call it accepted), and calls started meanwhile wait for the restarted server
// instead of failing.
func TestGoAwayDrainWithCallsInFlight(t *testing.T) {
	s := startServer(t)
	c := s.client(t, apikeys.WithPoolSize(1))
	ctx := ctxFor(t, 20*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	const inFlight = 20
	var failed atomic.Int64
	record := func(err error) {
		if err != nil {
			failed.Add(1)
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < inFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{SleepMillis: 800, ResponseSize: 3})
			if err == nil && len(resp.GetPayload()) != 3 {
				err = io.ErrShortBuffer
			}
			record(err)
		}()
	}
	time.Sleep(300 * time.Millisecond) // the calls are running on the server
	s.cmd.Process.Signal(syscall.SIGTERM)
	// New calls while the server drains and while it is down.
	stopNew := make(chan struct{})
	var newCalls atomic.Int64
	var nw sync.WaitGroup
	nw.Add(1)
	go func() {
		defer nw.Done()
		for {
			select {
			case <-stopNew:
				return
			default:
			}
			_, err := c.Health().Check(ctx, &apikeysv1.HealthCheckRequest{})
			record(err)
			newCalls.Add(1)
		}
	}()
	wg.Wait() // the in-flight calls ended before the server exited
	<-s.exited
	during := newCalls.Load()
	s.restart(t)
	for deadline := time.Now().Add(10 * time.Second); newCalls.Load() < during+10 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopNew)
	nw.Wait()
	st := c.Stats()
	t.Logf("%d calls in flight at SIGTERM, %d calls after, %d failed; %d dials, %d retries", inFlight, newCalls.Load(), failed.Load(), st.Dials, st.Retries)
	if st.Dials < 2 || newCalls.Load() < during+10 {
		t.Fatalf("expected a new connection after the GoAway: %+v", st)
	}
}

// The server's idle GoAway moves the next call to a fresh connection without an error.
func TestIdleGoAwayMovesToANewConnection(t *testing.T) {
	s := startServer(t, "--idle-timeout", "1")
	c := s.client(t, apikeys.WithPoolSize(1))
	ctx := ctxFor(t, 10*time.Second)
	for i := 0; i < 2; i++ {
		if _, err := c.Health().Check(ctx, &apikeysv1.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			time.Sleep(1600 * time.Millisecond)
		}
	}
	if st := c.Stats(); st.Dials != 2 {
		t.Fatalf("want a second connection after the idle GoAway, stats %+v", st)
	}
}

// verifyLoad runs Verify from `workers` goroutines until stop closes; every call has a
// 15 s deadline, longer than a restart.
func verifyLoad(c *apikeys.Client, secret string, workers int, stop <-chan struct{}) (calls, failed *atomic.Int64, firstErr *atomic.Value, wait func()) {
	calls, failed, firstErr = new(atomic.Int64), new(atomic.Int64), new(atomic.Value)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := c.Verification().Verify(ctx, &apikeysv1.VerifyRequest{Secret: secret})
				cancel()
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	return calls, failed, firstErr, wg.Wait
}

// Issue 12: a server restart under steady Verify load fails no call. Graceful (SIGTERM:
// GoAway, drain, restart) and a crash (SIGKILL: calls cut off mid-flight are resent, as
// Verify is IDEMPOTENT in proto/).
func TestRestartUnderVerifyLoadFailsNoCall(t *testing.T) {
	for _, how := range []string{"sigterm", "sigkill"} {
		t.Run(how, func(t *testing.T) {
			s := startServer(t)
			setup := s.client(t)
			w := provision(t, s, setup)
			c := s.client(t, apikeys.WithDefaults(apikeys.Service(s.creds.verifier)), apikeys.WithPoolSize(2))
			stop := make(chan struct{})
			calls, failed, firstErr, wait := verifyLoad(c, w.key.Secret, 8, stop)
			time.Sleep(1 * time.Second)
			before := calls.Load()
			down := time.Now()
			if how == "sigterm" {
				s.stop()
			} else {
				s.kill()
			}
			time.Sleep(time.Second) // an outage longer than a quick restart: calls wait it out
			s.restart(t)
			window := time.Since(down)
			// Calls resume once a reconnect attempt (jittered backoff, at most 1 s apart) finds the server.
			up, atRestart := time.Now(), calls.Load()
			for calls.Load() < atRestart+50 && time.Since(up) < 10*time.Second {
				time.Sleep(5 * time.Millisecond)
			}
			resumed := time.Since(up)
			close(stop)
			wait()
			st := c.Stats()
			t.Logf("%s: %d Verify calls (%d before the outage), %d failed; server down %v, calls resumed %v after its restart; %d dials, %d retries",
				how, calls.Load(), before, failed.Load(), window.Round(time.Millisecond), resumed.Round(time.Millisecond), st.Dials, st.Retries)
			if failed.Load() != 0 {
				t.Fatalf("%d calls failed, first: %v", failed.Load(), firstErr.Load())
			}
			if calls.Load() < atRestart+50 {
				t.Fatalf("only %d calls in 10 s after the restart", calls.Load()-atRestart)
			}
		})
	}
}

// A listener that accepts and never answers costs a call the handshake timeout per
// attempt; the client closes those connections, tries again with backoff, and reports
// UNAVAILABLE naming the timeout when its connect wait is over.
func TestHandshakeTimeoutAgainstASilentListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	closedByClient := make(chan struct{}, 100)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer nc.Close()
				io.Copy(io.Discard, nc) // reads the preface, answers nothing; ends when the client closes
				closedByClient <- struct{}{}
			}()
		}
	}()
	c, err := apikeys.New(ln.Addr().String(), apikeys.WithHandshakeTimeout(200*time.Millisecond),
		apikeys.WithConnectWait(1200*time.Millisecond), apikeys.WithPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Health().Check(ctxFor(t, 10*time.Second), &apikeysv1.HealthCheckRequest{})
	e := wantCode(t, err, apikeys.Unavailable, "")
	elapsed := time.Since(start)
	if !strings.Contains(e.Message, "handshake timeout") || elapsed < time.Second || elapsed > 3*time.Second {
		t.Fatalf("after %v: %v", elapsed, err)
	}
	if n := accepted.Load(); n < 2 {
		t.Fatalf("%d connection attempts in %v, want reconnects", n, elapsed)
	}
	select {
	case <-closedByClient:
	case <-time.After(2 * time.Second):
		t.Fatal("the client left a timed-out connection open")
	}
	// With a shorter deadline, the caller's deadline ends the wait.
	_, err = c.Health().Check(ctxFor(t, 300*time.Millisecond), &apikeysv1.HealthCheckRequest{})
	wantCode(t, err, apikeys.DeadlineExceeded, "")
}

// Calls spread over the pool's connections, as the server counts them.
func TestPoolSpreadsCalls(t *testing.T) {
	s := startServer(t, "--http-port", "0")
	c := s.client(t, apikeys.WithPoolSize(3))
	ctx := ctxFor(t, 20*time.Second)
	// The pool opens lazily: the first calls dial every slot and take whichever is up first.
	for c.Stats().Open < 3 {
		if _, err := c.Health().Check(ctx, &apikeysv1.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < 90; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{SleepMillis: 200}); err != nil {
				failed.Add(1)
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := c.Stats()
	if st.Open != 3 || failed.Load() != 0 {
		t.Fatalf("stats %+v, %d failed", st, failed.Load())
	}
	for i, n := range st.CallsByConn {
		if n < 25 {
			t.Fatalf("connection %d carried %d of the 90 calls and the warm-up: %v", i, n, st.CallsByConn)
		}
	}
	if open := metric(t, s.httpAddr, "apikeys_connections_open"); open != 3 {
		t.Fatalf("the server counts %v open connections, want 3", open)
	}
	t.Logf("calls per connection: %v", st.CallsByConn)
}

func metric(t *testing.T, addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && (f[0] == name || strings.HasPrefix(f[0], name+"{")) {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TLS: a client that trusts the server's CA verifies a key; one that does not fails at
// once with UNAVAILABLE (no retrying can fix a certificate).
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caPool := writeCertificates(t, dir)
	s := startServer(t, "--tls-certificate", filepath.Join(dir, "server.pem"), "--tls-private-key", filepath.Join(dir, "server.key"))
	c := s.client(t, apikeys.WithTLS(&tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}))
	w := provision(t, s, c)
	resp, err := c.Verification().Verify(ctxFor(t, 5*time.Second), &apikeysv1.VerifyRequest{Secret: w.key.Secret}, apikeys.Service(s.creds.verifier))
	if err != nil || resp.GetPrincipal().GetUserId() != "alice" {
		t.Fatalf("verify over TLS: %v, %v", resp, err)
	}
	untrusting := s.client(t, apikeys.WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	start := time.Now()
	_, err = untrusting.Health().Check(ctxFor(t, 10*time.Second), &apikeysv1.HealthCheckRequest{})
	wantCode(t, err, apikeys.Unavailable, "")
	if d := time.Since(start); d > 2*time.Second || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("after %v: %v", d, err)
	}
	plain := s.client(t, apikeys.WithHandshakeTimeout(time.Second), apikeys.WithConnectWait(time.Second))
	_, err = plain.Health().Check(ctxFor(t, 10*time.Second), &apikeysv1.HealthCheckRequest{})
	wantCode(t, err, apikeys.Unavailable, "")
}

// writeCertificates makes a CA and a server certificate for 127.0.0.1 in dir.
func writeCertificates(t *testing.T, dir string) *x509.CertPool {
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, serverKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "apikeys go test ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames: []string{"localhost"}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &serverKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, kind string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("server.pem", "CERTIFICATE", leafDER)
	write("server.key", "PRIVATE KEY", keyDER)
	write("ca.pem", "CERTIFICATE", caDER)
	// A client certificate naming a service by its SAN URI (X13), for mutual TLS.
	clientKey := newKey()
	gateway, _ := url.Parse("spiffe://example.org/gateway")
	client := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "gateway"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{gateway}}
	clientDER, err := x509.CreateCertificate(rand.Reader, client, caCert, &clientKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	clientKeyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	write("gateway.pem", "CERTIFICATE", clientDER)
	write("gateway.key", "PRIVATE KEY", clientKeyDER)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool
}

// Mutual TLS: the client certificate is the service's identity (no authorization
// metadata), and a client without one is refused.
func TestMutualTLSCertificateIsTheServiceIdentity(t *testing.T) {
	dir := t.TempDir()
	caPool := writeCertificates(t, dir)
	s := startServer(t, "--tls-certificate", filepath.Join(dir, "server.pem"), "--tls-private-key", filepath.Join(dir, "server.key"),
		"--tls-client-ca", filepath.Join(dir, "ca.pem"), "--tls-client-service", "spiffe://example.org/gateway=gateway:verify")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "gateway.pem"), filepath.Join(dir, "gateway.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.client(t, apikeys.WithTLS(&tls.Config{RootCAs: caPool, Certificates: []tls.Certificate{cert}}))
	w := provision(t, s, c)
	resp, err := c.Verification().Verify(ctxFor(t, 5*time.Second), &apikeysv1.VerifyRequest{Secret: w.key.Secret})
	if err != nil || resp.GetPrincipal().GetUserId() != "alice" {
		t.Fatalf("verify as the certificate's service: %v, %v", resp, err)
	}
	// Scope verify: the certificate's service may not act for a user.
	_, err = c.Keys().List(ctxFor(t, 5*time.Second), &apikeysv1.ListKeysRequest{}, apikeys.ActingFor("acme", "alice"))
	wantCode(t, err, apikeys.PermissionDenied, "scope_verify_only")
	anonymous := s.client(t, apikeys.WithTLS(&tls.Config{RootCAs: caPool}), apikeys.WithConnectWait(time.Second))
	_, err = anonymous.Health().Check(ctxFor(t, 10*time.Second), &apikeysv1.HealthCheckRequest{})
	wantCode(t, err, apikeys.Unavailable, "")
}

// A server that stops reading (SIGSTOP) cannot hold calls past their deadline, even
// when their requests no longer fit in the socket's buffers; once it runs again the
// client carries on on a new connection.
func TestDeadlineBoundsAWriteToAStoppedServer(t *testing.T) {
	s := startServer(t)
	c := s.client(t, apikeys.WithPoolSize(1))
	if err := c.Connect(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGSTOP)
	defer s.cmd.Process.Signal(syscall.SIGCONT)
	payload := make([]byte, 3<<20)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{Payload: payload})
			if code := apikeys.CodeOf(err); code != apikeys.DeadlineExceeded {
				t.Errorf("want DEADLINE_EXCEEDED, got %v", err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Signal(syscall.SIGCONT)
		t.Fatal("calls with a 1 s deadline still blocked after 5 s")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("calls with a 1 s deadline returned after %v", d)
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	if _, err := c.Health().Check(ctxFor(t, 10*time.Second), &apikeysv1.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

// Keepalive: a connection whose peer stops answering pings is dropped, so calls go to a
// new connection instead of waiting on a dead one.
func TestKeepaliveDropsAConnectionWithoutPongs(t *testing.T) {
	s := startServer(t)
	c := s.client(t, apikeys.WithPoolSize(1), apikeys.WithKeepalive(200*time.Millisecond))
	if err := c.Connect(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGSTOP)
	defer s.cmd.Process.Signal(syscall.SIGCONT)
	deadline := time.Now().Add(3 * time.Second)
	for c.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a connection to a stopped server was still in use after 3 s of unanswered pings")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	if _, err := c.Health().Check(ctxFor(t, 10*time.Second), &apikeysv1.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Dials != 2 {
		t.Fatalf("want a second connection, stats %+v", st)
	}
}
