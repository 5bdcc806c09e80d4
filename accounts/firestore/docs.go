package firestore

import (
	"fmt"

	"cloud.google.com/go/firestore"

	"omtx/accounts"
)

// userDoc is a user's document. Times are Unix nanoseconds.
type userDoc struct {
	Name string `firestore:"name"`
	// NameLower is Name in lower case (ASCII), for lookups and ordering.
	NameLower string `firestore:"name_lower"`
	Tier      string `firestore:"tier"`
	CreatedAt int64  `firestore:"created_at"`
	UpdatedAt int64  `firestore:"updated_at"`
}

func newUserDoc(name string, tier accounts.Tier, now int64) *userDoc {
	return &userDoc{Name: name, NameLower: asciiLower(name), Tier: string(tier), CreatedAt: now, UpdatedAt: now}
}

func (d *userDoc) user(id string) *accounts.User {
	return &accounts.User{ID: id, Name: d.Name, Tier: accounts.Tier(d.Tier), CreatedAt: toTime(d.CreatedAt)}
}

// nameDoc marks a name as taken. Its id is fixed by the lower-cased name,
// so creating it fails for a name taken in any case.
type nameDoc struct {
	UserID string `firestore:"user_id"`
	Name   string `firestore:"name"`
}

// tokenDoc is an API token; its id is the token's SHA-256.
type tokenDoc struct {
	UserID    string `firestore:"user_id"`
	Label     string `firestore:"label"`
	CreatedAt int64  `firestore:"created_at"`
	RevokedAt int64  `firestore:"revoked_at"` // 0 while the token is good
}

// sessionDoc is a browser session; its id is the secret's SHA-256.
type sessionDoc struct {
	UserID    string `firestore:"user_id"`
	CSRF      string `firestore:"csrf"`
	CreatedAt int64  `firestore:"created_at"`
	ExpiresAt int64  `firestore:"expires_at"`
}

// externalDoc links an outside identity to its user; its id is fixed by
// the identity.
type externalDoc struct {
	Provider  string `firestore:"provider"`
	Subject   string `firestore:"subject"`
	UserID    string `firestore:"user_id"`
	CreatedAt int64  `firestore:"created_at"`
}

// decode reads a document's data into d, naming what failed.
func decode(snap *firestore.DocumentSnapshot, d any, what string) error {
	if err := snap.DataTo(d); err != nil {
		return fmt.Errorf("firestore: decode %s %s: %w", what, snap.Ref.ID, err)
	}
	return nil
}
