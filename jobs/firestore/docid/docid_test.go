package docid

import (
	"strings"
	"testing"
)

func TestDigest(t *testing.T) {
	a, b := Digest("alice", "key"), Digest("alic", "ekey")
	if a == b || len(a) != 64 || !Valid(a) {
		t.Fatalf("digests %q %q", a, b)
	}
	if Digest("alice", "key") != a {
		t.Fatal("digest not stable")
	}
}

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"job-1": true, "": false, ".": false, "..": false, "a/b": false, "__x__": false, "__x": true,
		"\xff": false, strings.Repeat("a", 1501): false, "ünïcode": true,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}
