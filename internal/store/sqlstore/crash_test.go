package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// crashChildEnv makes the test binary act as a writer that is killed mid-stream.
const crashChildEnv = "EIO_CRASH_CHILD_DB"

// A write the store acknowledged survives kill -9 of the process: a child process creates users
// and prints each id once Create returned; the parent kills it without warning, reopens the
// database and finds every acknowledged user.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if file := os.Getenv(crashChildEnv); file != "" {
		writeUntilKilled(file)
		return
	}
	file := filepath.Join(t.TempDir(), "identity.db")
	cmd := exec.CommandContext(context.Background(), os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill9$") //nolint:gosec // the test binary itself
	cmd.Env = append(os.Environ(), crashChildEnv+"="+file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	for lines.Scan() && len(acked) < 300 {
		if id, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
			acked = append(acked, id)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup, no clean close
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("the writer acknowledged only %d writes", len(acked))
	}

	s, err := sqlstore.OpenSQLite(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for _, id := range acked {
		if _, err := s.Get(context.Background(), "crash", store.KindUser, id); err != nil {
			t.Fatalf("acknowledged user %s lost after kill -9: %v", id, err)
		}
	}
}

func writeUntilKilled(file string) {
	s, err := sqlstore.OpenSQLite(context.Background(), file)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		now := time.Now().UTC().Truncate(time.Microsecond)
		id := fmt.Sprintf("user-%06d", i)
		r := &store.Resource{Org: "crash", Kind: store.KindUser, ID: id, Name: id, Active: true, Doc: []byte(`{"userName":"` + id + `"}`),
			Created: now, Modified: now, Version: 1}
		if err := s.Create(context.Background(), r, nil, store.Write{}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", id)
	}
}
