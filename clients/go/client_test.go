package apikeys_test

import (
	"context"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	apikeys "apikeys/clients/go"
	"apikeys/clients/go/apikeysv1"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is an *apikeys.Error with code (and reason, when given).
func wantCode(t *testing.T, err error, code apikeys.Code, reason string) *apikeys.Error {
	t.Helper()
	var e *apikeys.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %v, got %T %v", code, err, err)
	}
	if e.Code != code || (reason != "" && e.Reason != reason) {
		t.Fatalf("want %v reason %q, got %v", code, reason, err)
	}
	return e
}

func TestVerifyOfAGeneratedKey(t *testing.T) {
	s, w := shared(t)
	c := s.client(t, apikeys.WithDefaults(apikeys.Service(s.creds.verifier)))
	resp, err := c.Verification().Verify(ctxFor(t, 5*time.Second), &apikeysv1.VerifyRequest{Secret: w.key.Secret})
	if err != nil {
		t.Fatal(err)
	}
	p := resp.GetPrincipal()
	if p.GetTenantId() != "acme" || p.GetUserId() != "alice" || p.GetKeyId() != w.key.GetKey().GetId() {
		t.Fatalf("principal %v, want acme/alice/%s", p, w.key.GetKey().GetId())
	}
	roles := strings.Join(p.GetRoles(), ",")
	if !strings.Contains(roles, "Developer") || !strings.Contains(roles, "TenantAdmin") {
		t.Fatalf("roles %q, want Developer and TenantAdmin", roles)
	}
}

// R4, R5, R17, X17 through the typed management methods.
func TestManagementCallsFollowRoles(t *testing.T) {
	s, w := shared(t)
	c := s.client(t)
	ctx := ctxFor(t, 10*time.Second)
	bob := []apikeys.CallOption{apikeys.Service(s.creds.console), apikeys.ActingFor("acme", "bob")}
	if _, err := c.Directory().CreateUser(ctx, &apikeysv1.CreateUserRequest{TenantId: "acme", UserId: "bob", Licensed: true}, w.op); err != nil {
		t.Fatal(err)
	}
	_, err := c.Keys().Generate(ctx, &apikeysv1.GenerateKeyRequest{Name: "bob's"}, bob...)
	if e := wantCode(t, err, apikeys.PermissionDenied, ""); e.Rule != "R4" {
		t.Fatalf("a generate without the Developer role: rule %q, want R4 (%v)", e.Rule, e)
	}
	// Alice, tenant admin, gives Bob the role (R5); now he may generate.
	if _, err := c.Directory().AssignRole(ctx, &apikeysv1.AssignRoleRequest{UserId: "bob", Role: apikeysv1.Role_ROLE_DEVELOPER}, w.alice...); err != nil {
		t.Fatal(err)
	}
	generated, err := c.Keys().Generate(ctx, &apikeysv1.GenerateKeyRequest{Name: "bob's"}, bob...)
	if err != nil {
		t.Fatal(err)
	}
	// X17: Bob's key can read his keys but cannot mint one.
	asKey := apikeys.Bearer(generated.GetSecret())
	list, err := c.Keys().List(ctx, &apikeysv1.ListKeysRequest{}, asKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetKeys()) != 1 || list.GetKeys()[0].GetId() != generated.GetKey().GetId() {
		t.Fatalf("bob's key lists %v", list.GetKeys())
	}
	_, err = c.Keys().Generate(ctx, &apikeysv1.GenerateKeyRequest{Name: "minted"}, asKey)
	wantCode(t, err, apikeys.PermissionDenied, "api_key_not_allowed")
}

func TestBadCredentialsStatusCodes(t *testing.T) {
	s, w := shared(t)
	c := s.client(t)
	ctx := ctxFor(t, 10*time.Second)
	verify := func(secret string, opts ...apikeys.CallOption) error {
		_, err := c.Verification().Verify(ctx, &apikeysv1.VerifyRequest{Secret: secret}, opts...)
		return err
	}
	wantCode(t, verify(w.key.Secret), apikeys.Unauthenticated, "")
	wantCode(t, verify(w.key.Secret, apikeys.Service(randomSecret())), apikeys.Unauthenticated, "")
	wantCode(t, verify(w.key.Secret, apikeys.Operator(s.creds.operator)), apikeys.PermissionDenied, "")
	// X18: a verify-scope credential may not act for a user.
	_, err := c.Keys().List(ctx, &apikeysv1.ListKeysRequest{}, apikeys.Service(s.creds.verifier), apikeys.ActingFor("acme", "alice"))
	wantCode(t, err, apikeys.PermissionDenied, "scope_verify_only")

	// A well-formed key that was never issued, and a revoked one (X8 reasons).
	other, err := c.Keys().Generate(ctx, &apikeysv1.GenerateKeyRequest{Name: "to revoke"}, w.alice...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Keys().Revoke(ctx, &apikeysv1.RevokeKeyRequest{KeyId: other.GetKey().GetId()}, w.alice...); err != nil {
		t.Fatal(err)
	}
	verifier := apikeys.Service(s.creds.verifier)
	wantCode(t, verify(other.Secret, verifier), apikeys.Unauthenticated, "revoked")
	unknown := reissue(w.key.Secret)
	if _, ok := apikeys.CheckSecret(unknown); !ok {
		t.Fatal("the reissued secret should have a valid checksum")
	}
	wantCode(t, verify(unknown, verifier), apikeys.Unauthenticated, "unknown")

	// A typo is refused by the client itself: no call reaches the server.
	before := sum(c.Stats().CallsByConn)
	typo := []byte(w.key.Secret)
	typo[30] ^= 1
	if e := wantCode(t, verify(string(typo), verifier), apikeys.Unauthenticated, "unknown"); !strings.Contains(e.Message, "checked by the client") {
		t.Fatalf("a mistyped key: %v", e)
	}
	if after := sum(c.Stats().CallsByConn); after != before {
		t.Fatalf("a mistyped key was sent to the server (%d calls, then %d)", before, after)
	}
}

func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += x
	}
	return n
}

// reissue changes a secret's random part and recomputes its checksum: well-formed,
// never issued.
func reissue(secret string) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := []byte(secret[:apikeys.SecretLength-6])
	if b[40] == 'A' {
		b[40] = 'B'
	} else {
		b[40] = 'A'
	}
	crc := crc32.ChecksumIEEE(b)
	sum := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		sum[i] = base62[crc%62]
		crc /= 62
	}
	return string(b) + string(sum)
}

// The checksum of a key the server generated checks out, and every single-character
// change of it is caught locally (X7: the checksum rejects typos without a lookup).
func TestCheckSecretOnServerKeys(t *testing.T) {
	_, w := shared(t)
	kind, ok := apikeys.CheckSecret(w.key.Secret)
	if !ok || kind != apikeys.APIKeySecret {
		t.Fatalf("the server's key fails the local check (kind %v)", kind)
	}
	for i := range w.key.Secret {
		for _, c := range []byte("a7Z0_") {
			typo := []byte(w.key.Secret)
			if typo[i] == c {
				continue
			}
			typo[i] = c
			if _, ok := apikeys.CheckSecret(string(typo)); ok {
				t.Fatalf("a change at %d passes the check", i)
			}
		}
	}
	if _, ok := apikeys.CheckSecret(w.key.Secret[:len(w.key.Secret)-1]); ok {
		t.Fatal("a truncated key passes the check")
	}
}

func TestDeadlineExceeded(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t, apikeys.WithPoolSize(1))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{SleepMillis: 5000})
	wantCode(t, err, apikeys.DeadlineExceeded, "")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the deadline of 200 ms ended the call after %v", d)
	}
	waitIdleOnServer(t, c)
}

func TestCancelStopsTheCallOnTheServer(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t, apikeys.WithPoolSize(1))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Conformance().Echo(ctx, &apikeysv1.EchoRequest{SleepMillis: 5000})
	wantCode(t, err, apikeys.Canceled, "")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancelled after 150 ms, returned after %v", d)
	}
	waitIdleOnServer(t, c)
}

// waitIdleOnServer: the server stopped the abandoned 5 s call (Echo reports the calls
// running on its connection, itself included), long before it would have finished.
func waitIdleOnServer(t *testing.T, c *apikeys.Client) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, err := c.Conformance().Echo(ctxFor(t, 5*time.Second), &apikeysv1.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCallsInFlight() <= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still runs %d calls 2 s after the client gave up", resp.GetCallsInFlight()-1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPing(t *testing.T) {
	s, _ := shared(t)
	c := s.client(t)
	rtt, err := c.Ping(ctxFor(t, 5*time.Second))
	if err != nil || rtt <= 0 || rtt > 2*time.Second {
		t.Fatalf("ping: %v, %v", rtt, err)
	}
	settings, err := c.ServerSettings(ctxFor(t, 5*time.Second))
	if err != nil || settings.GetProtocolVersion() != 1 {
		t.Fatalf("settings %v, %v", settings, err)
	}
}

// Every generated method path is one the server routes (none is UNIMPLEMENTED), and
// the generated table covers exactly the methods of the services in proto/.
func TestGeneratedMethodsMatchProtoAndServer(t *testing.T) {
	s, _ := shared(t)
	var fromProto []string
	protoregistry.GlobalFiles.RangeFilesByPackage("apikeys.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			sv := f.Services().Get(i)
			for j := 0; j < sv.Methods().Len(); j++ {
				fromProto = append(fromProto, "/"+string(sv.FullName())+"/"+string(sv.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(fromProto) != len(apikeys.Methods) || len(fromProto) < 25 {
		t.Fatalf("proto has %d methods, the generated table %d", len(fromProto), len(apikeys.Methods))
	}
	c := s.client(t)
	ctx := ctxFor(t, 10*time.Second)
	for _, m := range apikeys.Methods {
		in, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(m.Input))
		if err != nil {
			t.Fatal(err)
		}
		out, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(m.Output))
		if err != nil {
			t.Fatal(err)
		}
		req := in.New().Interface()
		if v, ok := req.(*apikeysv1.VerifyRequest); ok {
			v.Secret = reissue(sharedWorld.key.Secret) // past the local check
		}
		err = c.Invoke(ctx, m.Path, req, out.New().Interface())
		if code := apikeys.CodeOf(err); code == apikeys.Unimplemented || code == apikeys.Unknown {
			t.Errorf("%s: %v", m.Path, err)
		}
	}
	err := c.Invoke(ctx, "/apikeys.v1.Keys/Mint", &apikeysv1.EmptyMessage{}, &apikeysv1.EmptyMessage{})
	wantCode(t, err, apikeys.Unimplemented, "")
}
