package gctune

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestApplyDefaultsUnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "150") // restored after the test
	Apply()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the collector's target is the operator's choice; Apply changed it to %d", got)
	}
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	Apply()
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Fatalf("without GOGC the target is %d, got %d", DefaultGCPercent, got)
	}
}

func TestSoftLimitIsAShareOfTheContainerLimit(t *testing.T) {
	if got, ok := softLimit("536870912\n"); !ok || got != 483183820 {
		t.Fatalf("a 512 MiB limit gave %d, %v", got, ok)
	}
	for _, none := range []string{"max\n", "", "-1", "garbage"} {
		if _, ok := softLimit(none); ok {
			t.Fatalf("%q is no limit", none)
		}
	}
}
