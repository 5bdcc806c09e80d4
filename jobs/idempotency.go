package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// IdempotencyField names an idempotency key in errors: the HTTP header
// that carries it.
const IdempotencyField = "Idempotency-Key"

// MaxIdempotencyKeyLen is the longest idempotency key accepted, in bytes.
const MaxIdempotencyKeyLen = 255

// CheckIdempotencyKey checks a caller's idempotency key: 1 to 255 visible
// ASCII characters (a UUID, a hash, a name of the caller's own), so that it
// can be stored, logged and sent back in a header as it is.
func CheckIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return FieldError(IdempotencyField, "must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return FieldError(IdempotencyField, "must be visible ASCII characters (no spaces); byte %d is %#02x", i, c)
		}
	}
	return nil
}

// SubmittedError is Submit's answer to a submission whose idempotency key
// the user already used for the same work (see Submission.Fingerprint):
// nothing new was recorded, and Job is the job (or batch parent) that the
// first submission recorded, as it is now.
type SubmittedError struct {
	Job *Job
}

func (e *SubmittedError) Error() string {
	return fmt.Sprintf("already submitted under this idempotency key as %s", e.Job.ID)
}

// KeyReusedError is the conflict a store answers when an idempotency key
// the user already used for other work comes with a different submission.
func KeyReusedError(jobID string) *Error {
	return &Error{Code: ErrConflict, Field: IdempotencyField,
		Message: fmt.Sprintf("was already used for a different submission (%s); use a new key for new work", jobID)}
}

// Fingerprint identifies the work a submission asks for, so that a repeat
// under the same idempotency key can be told from a different request: the
// model, the name, the input, each child's name, input and content key,
// the content key, and the webhook (its secret hashed). It leaves out what
// differs between two attempts of one request (request id, trace context,
// the running cap of the moment) and the model's version, which a
// deployment between two attempts may change.
func (s Submission) Fingerprint() string {
	type child struct {
		N string          `json:"n"`
		I json.RawMessage `json:"i,omitempty"`
		K string          `json:"k,omitempty"`
	}
	v := struct {
		Model    string          `json:"m"`
		Name     string          `json:"n"`
		Input    json.RawMessage `json:"i,omitempty"`
		Key      string          `json:"k,omitempty"`
		Batch    bool            `json:"b"`
		Children []child         `json:"c,omitempty"`
		Hook     string          `json:"h,omitempty"`
		Attempts int             `json:"a,omitempty"`
	}{Model: s.Model, Name: s.Name, Input: compactJSON(s.Input), Key: s.ContentKey, Batch: s.IsBatch(),
		Attempts: s.MaxAttempts}
	for _, c := range s.Children {
		v.Children = append(v.Children, child{N: c.Name, I: compactJSON(c.Input), K: c.ContentKey})
	}
	if s.Webhook != nil {
		secret := sha256.Sum256([]byte(s.Webhook.Secret))
		v.Hook = s.Webhook.URL + " " + hex.EncodeToString(secret[:])
	}
	raw, err := json.Marshal(v)
	if err != nil {
		// Unreachable: every field is a string, a number or compacted JSON.
		raw = fmt.Append(nil, v)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// compactJSON returns raw without insignificant space, so that the same
// input spelled twice fingerprints the same; raw that is not JSON becomes
// a JSON string of its bytes.
func compactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return fmt.Appendf(nil, "%q", raw)
	}
	return b.Bytes()
}
