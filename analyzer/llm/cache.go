package llm

import (
	"container/list"
	"sync"
)

// Cache stores finished responses by prompt hash. Implementations must be safe for concurrent use; the lead
// may persist one in the store later.
type Cache interface {
	Get(key string) (Response, bool)
	Put(key string, r Response)
}

// MemoryCache is a least-recently-used Cache bounded to a number of entries.
type MemoryCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	r   Response
}

// NewMemoryCache returns an LRU cache holding at most max entries (minimum 1).
func NewMemoryCache(max int) *MemoryCache {
	if max < 1 {
		max = 1
	}
	return &MemoryCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// Get returns the cached response for key.
func (c *MemoryCache) Get(key string) (Response, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return Response{}, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).r, true
}

// Put stores r under key, evicting the least recently used entry when full.
func (c *MemoryCache) Put(key string, r Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*cacheEntry).r = r
		c.ll.MoveToFront(e)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, r: r})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).key)
	}
}

// Len returns the number of entries.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
