package apikeys_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The README's example, built and run against the real server.
func TestVerifyExample(t *testing.T) {
	s, w := shared(t)
	bin := filepath.Join(t.TempDir(), "verify")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/verify").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(key string) (string, error) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "APIKEYS_SERVER="+s.addr, "APIKEYS_SERVICE_CREDENTIAL="+s.creds.verifier)
		cmd.Stdin = strings.NewReader(key + "\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(w.key.Secret)
	if want := "acme alice " + w.key.GetKey().GetId() + "\n"; err != nil || out != want {
		t.Fatalf("example printed %q (%v), want %q", out, err, want)
	}
	out, err = run(reissue(w.key.Secret))
	if err == nil || !strings.Contains(out, "UNAUTHENTICATED") {
		t.Fatalf("an unknown key: %q (%v)", out, err)
	}
	if strings.Contains(out, w.key.Secret[4:60]) {
		t.Fatal("the example printed the secret")
	}
}
