package apikeys_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apikeys "apikeys/clients/go"
	"apikeys/clients/go/apikeysv1"
)

// The tests run against real apikeysd processes: $APIKEYSD, or the debug build of the
// repository (swift build --product apikeysd).
func apikeysdPath() (string, error) {
	path := os.Getenv("APIKEYSD")
	if path == "" {
		path, _ = filepath.Abs("../../.build/debug/apikeysd")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("apikeysd not found at %s: build it (swift build --product apikeysd) or set APIKEYSD", path)
	}
	return path, nil
}

// creds are the secrets a test server accepts; made per run, never printed.
type creds struct {
	operator, verifier, console string
}

func randomSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// server is one apikeysd process; restart keeps its data directory and port.
type server struct {
	cmd      *exec.Cmd
	exited   chan struct{}
	addr     string
	httpAddr string
	args     []string
	creds    creds
	stderr   string
}

// launchServer starts apikeysd in dir on a free port with the Conformance service and
// credential files of its own; extra flags are appended.
func launchServer(dir string, extra ...string) (*server, error) {
	cr := creds{operator: randomSecret(), verifier: randomSecret(), console: randomSecret()}
	files := map[string]string{
		"operator": cr.operator + "\n",
		"services": fmt.Sprintf("verifier verify %s\nconsole act %s\n", cr.verifier, cr.console),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	s := &server{creds: cr, stderr: filepath.Join(dir, "stderr.log"), args: append([]string{
		"--host", "127.0.0.1", "--data-dir", filepath.Join(dir, "data"), "--conformance",
		"--operator-credential-file", filepath.Join(dir, "operator"),
		"--service-credentials-file", filepath.Join(dir, "services"),
		"--access-log", "off", "--shutdown-grace-period", "10",
	}, extra...)}
	return s, s.launch("0")
}

func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	s, err := launchServer(t.TempDir(), extra...)
	if s != nil {
		t.Cleanup(s.stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) launch(port string) error {
	binary, err := apikeysdPath()
	if err != nil {
		return err
	}
	args := append(append([]string{}, s.args...), "--port", port)
	cmd := exec.Command(binary, args...)
	errFile, err := os.OpenFile(s.stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody waits any more; keep draining so the pipe never fills
			}
		}
		close(lines)
	}()
	go func() { cmd.Wait(); close(s.exited) }()
	wantHTTP := false
	for _, a := range s.args {
		wantHTTP = wantHTTP || a == "--http-port"
	}
	timeout := time.After(30 * time.Second)
	for s.addr == "" || (wantHTTP && s.httpAddr == "") {
		select {
		case line, ok := <-lines:
			if !ok {
				return fmt.Errorf("apikeysd exited before listening; stderr:\n%s", s.stderrTail())
			}
			// Only these lines are looked at: others may carry a credential.
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "apikeysd listening on ") {
				s.addr = strings.TrimPrefix(line, "apikeysd listening on ")
			}
			if strings.HasPrefix(line, "http: http://") {
				s.httpAddr = strings.Fields(strings.TrimPrefix(line, "http: http://"))[0]
			}
		case <-timeout:
			s.cmd.Process.Kill()
			return fmt.Errorf("apikeysd did not listen within 30 s; stderr:\n%s", s.stderrTail())
		}
	}
	return nil
}

func (s *server) stderrTail() string {
	b, _ := os.ReadFile(s.stderr)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// stop sends SIGTERM (a graceful drain) and waits; SIGKILL after 15 s.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// restart starts the server again on the same port and data directory.
func (s *server) restart(t testing.TB) {
	t.Helper()
	_, port, _ := strings.Cut(s.addr, ":")
	s.addr, s.httpAddr = "", ""
	if err := s.launch(port); err != nil {
		t.Fatal(err)
	}
}

// client returns a client of s closed when the test ends.
func (s *server) client(t testing.TB, opts ...apikeys.Option) *apikeys.Client {
	c, err := apikeys.New(s.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// world is what provision makes: tenant acme, alice (tenant admin and licensed
// developer) and her key.
type world struct {
	key   *apikeysv1.GenerateKeyResponse
	op    apikeys.CallOption
	alice []apikeys.CallOption
}

// provision creates tenant acme and alice through the operator, enables API keys and
// generates a key for alice through the console service acting for her.
func provision(t testing.TB, s *server, c *apikeys.Client) world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := world{op: apikeys.Operator(s.creds.operator),
		alice: []apikeys.CallOption{apikeys.Service(s.creds.console), apikeys.ActingFor("acme", "alice")}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Directory().CreateTenant(ctx, &apikeysv1.CreateTenantRequest{TenantId: "acme", Name: "Acme"}, w.op)
	must(err)
	_, err = c.Directory().CreateUser(ctx, &apikeysv1.CreateUserRequest{TenantId: "acme", UserId: "alice", Licensed: true,
		Roles: []apikeysv1.Role{apikeysv1.Role_ROLE_TENANT_ADMIN, apikeysv1.Role_ROLE_DEVELOPER}}, w.op)
	must(err)
	_, err = c.Settings().Update(ctx, &apikeysv1.UpdateSettingsRequest{
		ApiKeysEnabledUpdate: &apikeysv1.UpdateSettingsRequest_ApiKeysEnabled{ApiKeysEnabled: true}}, w.alice...)
	must(err)
	w.key, err = c.Keys().Generate(ctx, &apikeysv1.GenerateKeyRequest{Name: "ci"}, w.alice...)
	must(err)
	return w
}

// shared is one server for the tests that neither stop nor reconfigure it, started by
// TestMain; sharedWorld is provisioned on first use.
var (
	sharedServer *server
	sharedOnce   sync.Once
	sharedWorld  world
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apikeys-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedServer, err = launchServer(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if sharedServer != nil {
		sharedServer.stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func shared(t *testing.T) (*server, world) {
	t.Helper()
	sharedOnce.Do(func() {
		c, err := apikeys.New(sharedServer.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sharedWorld = provision(t, sharedServer, c)
	})
	if sharedWorld.key == nil {
		t.Fatal("provisioning the shared server failed")
	}
	return sharedServer, sharedWorld
}
