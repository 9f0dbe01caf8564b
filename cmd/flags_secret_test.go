package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The PostgreSQL URL carries the database's password (the chart sets $EIO_POSTGRES_URL from a
// Secret). Go's flag package prints every flag's default in its usage text, on -h and on any flag
// error (a typo, a chart passing a flag an older image does not know): the URL must not be a
// default, or a crash-looping pod writes the password to its log at every restart.
func TestTheDatabasePasswordIsNeverInTheUsageText(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "manager")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", binary, ".").CombinedOutput(); err != nil { //nolint:gosec // fixed arguments
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--no-such-flag"}, {"-h"}, {"--max-organization-burst=abc"}} {
		cmd := exec.CommandContext(t.Context(), binary, args...) //nolint:gosec // the binary just built
		cmd.Env = append(os.Environ(), "EIO_POSTGRES_URL=postgres://eio:s3cret-password@127.0.0.1:1/eio")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "postgres-url") {
			t.Fatalf("%v printed no usage text: %s", args, out)
		}
		if strings.Contains(string(out), "s3cret-password") {
			t.Fatalf("%v printed the database password:\n%s", args, out)
		}
	}
}
