package certs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

// env is the real control plane the tests of this package share.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, func(e *testenv.Env) { env = e })
}

// certManagerCRD is the path of one of cert-manager's CRDs in the module
// cache: the module zip ships them in deploy/crds.
func certManagerCRD(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		t.Fatalf("find the cert-manager module: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds", file)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("cert-manager CRD: %v", err)
	}
	return path
}
