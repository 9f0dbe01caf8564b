package sizedlru

import "testing"

func TestBoundedByBytesAndEntries(t *testing.T) {
	var evicted []int
	c := New[int, string](3, 100, func(k int, _ string) { evicted = append(evicted, k) })
	c.Add(1, "a", 40)
	c.Add(2, "b", 40)
	c.Get(1)          // 2 is now the least recently used
	c.Add(3, "c", 40) // 120 bytes: 2 leaves
	if _, ok := c.Get(2); ok || c.Bytes() != 80 || len(evicted) != 1 || evicted[0] != 2 {
		t.Fatalf("bytes %d, evicted %v", c.Bytes(), evicted)
	}
	c.Add(3, "c2", 10) // a replacement releases the old cost
	if c.Bytes() != 50 {
		t.Fatalf("bytes %d after replacing, want 50", c.Bytes())
	}
	if c.Add(4, "huge", 101) {
		t.Fatal("an entry above the whole budget must not be stored")
	}
	c.Add(5, "e", 1)
	c.Add(6, "f", 1) // a fourth entry: the count bound evicts
	if c.Len() != 3 {
		t.Fatalf("%d entries, want 3", c.Len())
	}
	c.Purge()
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("after Purge: %d entries, %d bytes", c.Len(), c.Bytes())
	}
}
