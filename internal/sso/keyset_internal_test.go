package sso

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// A key set is counted, not kept: a document of a million empty keys (the fetch's bound allows
// 8 MiB) costs the decoder's scan, not an allocation per key.
func TestAKeySetIsCountedWithoutKeepingItsKeys(t *testing.T) {
	doc := []byte(`{"keys":[` + strings.Repeat(`{},`, 1<<20) + `{}]}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var keys keySet
	if err := json.Unmarshal(doc, &keys); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(keys.Keys) != 1<<20+1 {
		t.Fatalf("%d keys counted", len(keys.Keys))
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
		t.Fatalf("decoding %d bytes of keys allocated %d bytes", len(doc), grown)
	}
}
