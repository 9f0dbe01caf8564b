package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSessionKey(t *testing.T) {
	if key, err := readSessionKey(""); key != nil || err != nil {
		t.Fatalf("no file: want a per-process key (nil), got %q, %v", key, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "key")
	if err := os.WriteFile(good, []byte(strings.Repeat("k", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if key, err := readSessionKey(good); err != nil || len(key) != 64 {
		t.Fatalf("a 64-byte key (newline trimmed): got %d bytes, %v", len(key), err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readSessionKey(short); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a short key must be refused with the reason, got %v", err)
	}
	if _, err := readSessionKey(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file must be an error")
	}
}
