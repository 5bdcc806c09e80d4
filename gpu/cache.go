package gpu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Cache keeps preparation that many tasks share (a converted receptor, a
// protein's MSA) in folders named by the hash of what they were made from.
// Each entry is built once: concurrent callers wait for the first, and a
// folder only appears, by rename, once it is complete.
type Cache struct {
	dir string
	mu  sync.Mutex
	// building holds a lock per key being built in this process.
	building map[string]*sync.Mutex
}

// NewCache returns a cache in dir (created if missing).
func NewCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Cache{dir: dir, building: map[string]*sync.Mutex{}}, nil
}

// Key hashes the parts that determine an entry.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Get returns the folder of the entry for key, building it with build when
// it is missing. build fills the folder it is given; on error nothing is
// kept.
func (c *Cache) Get(kind, key string, build func(dir string) error) (string, error) {
	final := filepath.Join(c.dir, kind, key)
	lock := c.lock(kind + "/" + key)
	lock.Lock()
	defer lock.Unlock()
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("cache %s: %w", kind, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("cache %s: %w", kind, err)
	}
	if err := build(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		// Another process built it first: use theirs.
		if _, statErr := os.Stat(final); statErr == nil {
			return final, nil
		}
		return "", fmt.Errorf("cache %s: %w", kind, err)
	}
	return final, nil
}

func (c *Cache) lock(key string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.building[key]
	if !ok {
		m = &sync.Mutex{}
		c.building[key] = m
	}
	return m
}
