// Package accounts holds the hub's users, their tiers and their
// credentials: API tokens for programs and sessions for browsers. It
// declares the Store port; accounts/sqlite implements it.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"omtx/jobs"
)

// Tier is a user's service level; it sets the user's Limits.
type Tier string

// The tiers, from least to most generous.
const (
	TierDefault    Tier = "default"
	TierPremium    Tier = "premium"
	TierEnterprise Tier = "enterprise"
)

// Tiers returns every tier, from least to most generous.
func Tiers() []Tier { return []Tier{TierDefault, TierPremium, TierEnterprise} }

// Valid reports whether t is one of the tiers.
func (t Tier) Valid() bool {
	switch t {
	case TierDefault, TierPremium, TierEnterprise:
		return true
	}
	return false
}

// ParseTier returns the tier named s.
func ParseTier(s string) (Tier, error) {
	if t := Tier(s); t.Valid() {
		return t, nil
	}
	names := make([]string, 0, 3)
	for _, t := range Tiers() {
		names = append(names, string(t))
	}
	return "", jobs.FieldError("tier", "unknown tier %q: want one of %s", s, strings.Join(names, ", "))
}

// Limits are what a tier allows one user.
type Limits struct {
	SubmitPerMinute    int // job and batch submissions
	ReadPerMinute      int // GET requests
	MaxLigandsPerBatch int
	MaxRunning         int // the user's jobs running at once
}

// DefaultLimits returns the product's limits for each tier.
func DefaultLimits() map[Tier]Limits {
	return map[Tier]Limits{
		TierDefault:    {SubmitPerMinute: 60, ReadPerMinute: 3000, MaxLigandsPerBatch: 2000, MaxRunning: 4},
		TierPremium:    {SubmitPerMinute: 150, ReadPerMinute: 6000, MaxLigandsPerBatch: 10000, MaxRunning: 16},
		TierEnterprise: {SubmitPerMinute: 300, ReadPerMinute: 12000, MaxLigandsPerBatch: 50000, MaxRunning: 64},
	}
}

// User is an account on the hub.
type User struct {
	ID        string
	Name      string
	Tier      Tier
	CreatedAt time.Time
}

// NewUser is what UserCreate needs.
type NewUser struct {
	Name string
	Tier Tier // TierDefault if empty
}

// Validate checks the new user's name and tier, filling in the default
// tier.
func (n *NewUser) Validate() error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	if n.Tier == "" {
		n.Tier = TierDefault
	}
	_, err := ParseTier(string(n.Tier))
	return err
}

// MaxNameLen is the longest user name.
const MaxNameLen = 64

// ValidateName checks a user name: 1 to 64 of A-Z, a-z, 0-9, '.', '_'
// and '-'.
func ValidateName(name string) error {
	if name == "" {
		return jobs.FieldError("name", "a name is required")
	}
	if len(name) > MaxNameLen {
		return jobs.FieldError("name", "a name has at most %d characters", MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return jobs.FieldError("name", "a name has only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// MaxLabelLen is the longest API token label.
const MaxLabelLen = 100

// ValidateLabel checks an API token's label, which may be empty.
func ValidateLabel(label string) error {
	if len(label) > MaxLabelLen {
		return jobs.FieldError("label", "a label has at most %d characters", MaxLabelLen)
	}
	return nil
}

// Session is a signed-in browser.
type Session struct {
	UserID string
	// CSRF is a random token that pages embed and state-changing requests
	// must echo.
	CSRF      string
	ExpiresAt time.Time
}

// Store keeps users and their credentials. Credentials are stored only as
// their SHA-256 (HashSecret) and looked up by it. Every method returns an
// *jobs.Error with code ErrNotFound for a missing record.
type Store interface {
	// UserCreate adds a user with a new ID and returns it with its first
	// API token. A name already taken (names are unique regardless of
	// case) is ErrConflict; a bad name or tier is a field error.
	UserCreate(ctx context.Context, n NewUser) (*User, string, error)
	UserGet(ctx context.Context, id string) (*User, error)
	// UserByName finds a user by name, regardless of case.
	UserByName(ctx context.Context, name string) (*User, error)
	// UserList returns every user, by name.
	UserList(ctx context.Context) ([]*User, error)
	UserSetTier(ctx context.Context, id string, t Tier) (*User, error)

	// TokenCreate returns a new API token for an existing user.
	TokenCreate(ctx context.Context, userID, label string) (string, error)
	// UserByToken returns the owner of an API token that has not been
	// revoked.
	UserByToken(ctx context.Context, token string) (*User, error)
	// TokenRevoke revokes a token for good; revoking it again does
	// nothing. An unknown token is ErrNotFound.
	TokenRevoke(ctx context.Context, token string) error

	// SessionCreate starts a session of ttl for a user and returns its
	// secret (for the cookie) and the session.
	SessionCreate(ctx context.Context, userID string, ttl time.Duration) (string, *Session, error)
	// SessionGet returns a session that has not expired and its user.
	SessionGet(ctx context.Context, secret string) (*Session, *User, error)
	// SessionDelete ends a session; ending an unknown one does nothing.
	SessionDelete(ctx context.Context, secret string) error

	// UserByExternal returns the user linked to an identity at an outside
	// identity provider (such as a Firebase Authentication uid), or
	// ErrNotFound when none is.
	UserByExternal(ctx context.Context, id External) (*User, error)
	// UserEnsureExternal returns the user linked to id, creating and
	// linking one on first use. A new user gets n.Tier (TierDefault if
	// empty) and n.Name, or, when that name is taken, the first free
	// UniqueName(n.Name, 2), UniqueName(n.Name, 3), ...; no API token is
	// made. An existing user is returned unchanged: n is then ignored.
	// Concurrent calls for one identity end with one user, which they all
	// return; two identities never share a user. A bad id, name or tier
	// is a field error.
	UserEnsureExternal(ctx context.Context, id External, n NewUser) (*User, error)

	Ping(ctx context.Context) error
	Close() error
}

// ProviderFirebase is External.Provider for Firebase Authentication,
// whose Subject is the Firebase uid.
const ProviderFirebase = "firebase"

// External names a user's identity at an outside identity provider: the
// provider (ProviderFirebase) and the provider's stable id for the user
// (Subject, such as a Firebase uid). A store keeps the link from it to
// one user.
type External struct {
	Provider string
	Subject  string
}

// MaxSubjectLen bounds External.Subject (a Firebase uid has at most 128
// characters).
const MaxSubjectLen = 256

// Validate checks that the identity names a provider and a subject.
func (e External) Validate() error {
	if e.Provider == "" || len(e.Provider) > MaxNameLen {
		return jobs.FieldError("provider", "an identity provider is named by 1 to %d characters", MaxNameLen)
	}
	if e.Subject == "" || len(e.Subject) > MaxSubjectLen {
		return jobs.FieldError("subject", "an identity's subject has 1 to %d characters", MaxSubjectLen)
	}
	return nil
}

// NameFor suggests a user name for a new user from what an identity
// provider knows: the display name if it makes a name, else the part of
// the email before the '@', else "user". Characters a name may not have
// become '-', and the result is cut to fit MaxNameLen with room for a
// UniqueName suffix. It always passes ValidateName.
func NameFor(displayName, email string) string {
	local, _, _ := strings.Cut(email, "@")
	for _, cand := range []string{displayName, local} {
		if n := sanitizeName(cand); n != "" {
			return n
		}
	}
	return "user"
}

// sanitizeName maps s to the characters a name may have, joining runs of
// others into one '-' and trimming them from the ends; "" if nothing is
// left.
func sanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-'
		switch {
		case ok:
			b.WriteRune(r)
			dash = r == '-'
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > MaxNameLen-8 {
		out = strings.TrimRight(out[:MaxNameLen-8], "-.")
	}
	return out
}

// UniqueName is the n-th candidate (n >= 2) a store tries when name is
// taken: name, '-' and n, with name cut so that the result fits
// MaxNameLen.
func UniqueName(name string, n int) string {
	suffix := "-" + strconv.Itoa(n)
	if len(name)+len(suffix) > MaxNameLen {
		name = name[:MaxNameLen-len(suffix)]
	}
	return name + suffix
}

// Config is what every store needs from its composition root.
type Config struct {
	Clock jobs.Clock
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Clock == nil {
		c.Clock = jobs.SystemClock{}
	}
	return c
}

// Credential prefixes: they tell a token from a session secret at a
// glance and let secret scanners find leaked ones.
const (
	TokenPrefix   = "omtx_"
	SessionPrefix = "omtxs_"
)

// NewToken returns a new random API token.
func NewToken() string { return TokenPrefix + randomString() }

// NewSessionSecret returns a new random session secret.
func NewSessionSecret() string { return SessionPrefix + randomString() }

// NewCSRF returns a new random CSRF token.
func NewCSRF() string { return randomString() }

// randomString returns 32 random bytes, base64url-encoded without padding.
func randomString() string {
	var b [32]byte
	rand.Read(b[:]) // never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns the hex SHA-256 of a token or session secret: the
// only form in which a store keeps it.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
