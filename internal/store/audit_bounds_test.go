package store_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

func TestClipCutsAtARuneAndMarksTheCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456…"},
		{"ééééé", 8, "éé…"},                           // 4 bytes before the mark cut the third é in two: it goes
		{strings.Repeat("\xff", 20), 10, ""},          // no text to keep: bytes that are not UTF-8 are dropped
		{"a\x00b\xffc", 10, "abc"},                    // and NUL characters (PostgreSQL holds neither)
		{strings.Repeat("\x00x", 20), 10, "xxxxxxx…"}, // cut after they are gone
	} {
		got := store.Clip(tc.in, tc.n)
		if got != tc.want || len(got) > max(tc.n, len("…")) || !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestABoundedAuditEventKeepsWhatFitsAndCutsTheRest(t *testing.T) {
	names := make([]string, 100)
	for i := range names {
		names[i] = strings.Repeat("a", i*3)
	}
	e := store.AuditEvent{Action: "user.list", Path: strings.Repeat("/p", 1000), Client: "okta", Detail: strings.Repeat("d", 5000),
		ResourceID: "id", Source: strings.Repeat("s", 600), Attributes: names}
	b := e.Bounded()
	if len(b.Path) > store.MaxAuditText || len(b.Source) > store.MaxAuditText || len(b.Detail) > store.MaxAuditDetail {
		t.Errorf("fields past their bounds: path %d, source %d, detail %d bytes", len(b.Path), len(b.Source), len(b.Detail))
	}
	if b.Client != "okta" || b.ResourceID != "id" || b.Action != "user.list" {
		t.Errorf("fields within their bounds changed: %+v", b)
	}
	if len(b.Attributes) != store.MaxAuditAttributes || b.Attributes[10] != names[10] || len(b.Attributes[63]) != store.MaxAuditName {
		t.Errorf("attributes: %d kept, the 11th %q, the 64th %d bytes", len(b.Attributes), b.Attributes[10], len(b.Attributes[63]))
	}
	if len(e.Detail) != 5000 || len(e.Attributes) != 100 {
		t.Error("Bounded changed the event it was called on")
	}
}
