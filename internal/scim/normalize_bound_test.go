package scim

import (
	"runtime"
	"strings"
	"testing"
)

// Entra's value-path form is written out before parsing, its condition copied into each
// alternative. The copies are bounded as they are made: alternatives without a comparison pass
// the raw text's limits, and 3,000 of them with a 16 KiB condition allocated about 200 MB
// (about 50 MB of copies, copied again by each rewrite) before the result was refused.
func TestAFilterIsNotWrittenOutPastItsBound(t *testing.T) {
	bare := `emails[` + strings.TrimSuffix(strings.Repeat("x or ", 3000), " or ") + `].value eq "` + strings.Repeat("v", 16<<10) + `"`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := parseFilter(bare, "org")
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a filter written out past the bound was parsed")
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 4<<20 {
		t.Fatalf("refusing it allocated %d bytes", allocated)
	}
}
