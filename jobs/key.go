package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// ContentKey identifies identical work: the same model at the same version
// on the same normalized input with the same options. Inputs are encoded as
// JSON (object keys sorted), so field order does not matter; callers
// normalize values (trimmed SMILES, upper-case sequences) before.
func ContentKey(model, version string, input any) (string, error) {
	// Round-trip through a generic value so that structs and maps with the
	// same content encode identically (encoding/json sorts map keys).
	raw, err := json.Marshal(input)
	if err != nil {
		return "", fmt.Errorf("content key: %w", err)
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return "", fmt.Errorf("content key: %w", err)
	}
	canon, err := json.Marshal(generic)
	if err != nil {
		return "", fmt.Errorf("content key: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", model, version)
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil)), nil
}
