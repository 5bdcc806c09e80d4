// Package docid makes and checks Firestore document ids for the stores
// that keep records in Firestore (jobs/firestore, accounts/firestore).
package docid

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Digest is a document id for a tuple of strings: fixed length, valid
// whatever the strings hold, different for different tuples, and spread
// evenly over the key space (no hot ranges).
func Digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Valid reports whether id can name a document. Ids that cannot (from a
// URL, say) name no record, so the stores answer not found for them.
func Valid(id string) bool {
	switch {
	case id == "", id == ".", id == "..", len(id) > 1500, !utf8.ValidString(id), strings.Contains(id, "/"):
		return false
	case strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"):
		return false
	}
	return true
}
