// Package sizedlru is a least-recently-used cache bounded by the estimated bytes of its entries
// as well as by their number. Caches filled from request text (filter shapes, the SQL they
// translate to) must be bounded by size: a count alone lets a few huge entries take any amount
// of memory. The list itself is hashicorp/golang-lru's; this adds the byte accounting.
package sizedlru

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Cache is safe for concurrent use. OnEvict, when set, runs for every entry leaving the cache
// (evicted, replaced, removed or purged) while the cache's lock is held: it must be quick and
// must not call the cache.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[K, entry[V]]
	bytes    int64
	maxBytes int64
	onEvict  func(K, V)
}

type entry[V any] struct {
	value V
	cost  int64
}

// New returns a cache of at most maxEntries entries and maxBytes estimated bytes.
func New[K comparable, V any](maxEntries int, maxBytes int64, onEvict func(K, V)) *Cache[K, V] {
	c := &Cache[K, V]{maxBytes: maxBytes, onEvict: onEvict}
	c.lru, _ = simplelru.NewLRU[K, entry[V]](max(maxEntries, 1), func(k K, e entry[V]) {
		c.bytes -= e.cost
		if c.onEvict != nil {
			c.onEvict(k, e.value)
		}
	})
	return c
}

// Get returns the value of key, marking it recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	return e.value, ok
}

// Add stores value at an estimated cost in bytes, evicting the least recently used entries until
// the cache is within its bounds again. An entry costing more than the whole budget is not
// stored (false): it would only empty the cache.
func (c *Cache[K, V]) Add(key K, value V, cost int64) bool {
	if cost > c.maxBytes {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key) // a replaced entry leaves through onEvict, releasing its bytes
	c.lru.Add(key, entry[V]{value: value, cost: cost})
	c.bytes += cost
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
	return true
}

// Len is the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes is the estimated size of the entries.
func (c *Cache[K, V]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Purge removes every entry.
func (c *Cache[K, V]) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
}
