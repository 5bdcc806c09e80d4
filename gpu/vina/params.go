package vina

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"omtx/jobs"
)

// Parameter defaults.
const (
	DefaultExhaustiveness = 8
	DefaultNumPoses       = 9
	DefaultSeed           = 42
	DefaultEnergyRange    = 3.0
	// maxBoxSide is the longest box side accepted, in Å.
	maxBoxSide = 126.0
	// maxEnergyRange bounds energy_range, in kcal/mol.
	maxEnergyRange = 10.0
)

// Params is Input.Parameters of a Vina job. Absent fields take the
// defaults.
type Params struct {
	// Exhaustiveness is Vina's search effort per conformer.
	Exhaustiveness int `json:"exhaustiveness"`
	// NumPoses is the most poses kept (Vina's --num_modes).
	NumPoses int `json:"num_poses"`
	// Seed seeds RDKit's conformers and Vina's search (0 to 2^31-1); the
	// same seed gives the same poses.
	Seed int64 `json:"seed"`
	// EnergyRange keeps poses at most this much (kcal/mol) above the best.
	EnergyRange float64 `json:"energy_range"`
	// Box overrides the target's box when set.
	Box *Box `json:"box,omitempty"`
}

// rawParams distinguishes absent fields from zeros.
type rawParams struct {
	Exhaustiveness *int     `json:"exhaustiveness"`
	NumPoses       *int     `json:"num_poses"`
	Seed           *int64   `json:"seed"`
	EnergyRange    *float64 `json:"energy_range"`
	Box            *rawBox  `json:"box"`
}

type rawBox struct {
	CenterX *float64 `json:"center_x"`
	CenterY *float64 `json:"center_y"`
	CenterZ *float64 `json:"center_z"`
	SizeX   *float64 `json:"size_x"`
	SizeY   *float64 `json:"size_y"`
	SizeZ   *float64 `json:"size_z"`
}

// parseParams decodes and checks Input.Parameters against the model's
// limits. Errors are *jobs.Error naming the field.
func (m *Model) parseParams(raw json.RawMessage) (Params, error) {
	p := Params{
		Exhaustiveness: DefaultExhaustiveness,
		NumPoses:       DefaultNumPoses,
		Seed:           DefaultSeed,
		EnergyRange:    DefaultEnergyRange,
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return p, nil
	}
	var r rawParams
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return p, paramDecodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return p, jobs.FieldError("parameters", "must be one JSON object")
	}
	lim := m.cfg
	if r.Exhaustiveness != nil {
		p.Exhaustiveness = *r.Exhaustiveness
		if p.Exhaustiveness < 1 || p.Exhaustiveness > lim.MaxExhaustiveness {
			return p, jobs.FieldError("exhaustiveness", "must be between 1 and %d", lim.MaxExhaustiveness)
		}
	}
	if r.NumPoses != nil {
		p.NumPoses = *r.NumPoses
		if p.NumPoses < 1 || p.NumPoses > lim.MaxPoses {
			return p, jobs.FieldError("num_poses", "must be between 1 and %d", lim.MaxPoses)
		}
	}
	if r.Seed != nil {
		p.Seed = *r.Seed
		if p.Seed < 0 || p.Seed > math.MaxInt32 {
			return p, jobs.FieldError("seed", "must be between 0 and %d", math.MaxInt32)
		}
	}
	if r.EnergyRange != nil {
		p.EnergyRange = *r.EnergyRange
		if !(p.EnergyRange > 0 && p.EnergyRange <= maxEnergyRange) {
			return p, jobs.FieldError("energy_range", "must be above 0 and at most %g kcal/mol", maxEnergyRange)
		}
	}
	if r.Box != nil {
		b, err := r.Box.check(lim.MaxBoxVolume)
		if err != nil {
			return p, err
		}
		p.Box = &b
	}
	return p, nil
}

func (r *rawBox) check(maxVolume float64) (Box, error) {
	fields := []struct {
		name string
		v    *float64
	}{
		{"center_x", r.CenterX}, {"center_y", r.CenterY}, {"center_z", r.CenterZ},
		{"size_x", r.SizeX}, {"size_y", r.SizeY}, {"size_z", r.SizeZ},
	}
	for _, f := range fields {
		if f.v == nil {
			return Box{}, jobs.FieldError("box", "%s is required (give all of center_x, center_y, center_z, size_x, size_y, size_z in Å)", f.name)
		}
		if math.IsNaN(*f.v) || math.IsInf(*f.v, 0) || math.Abs(*f.v) > 9999 {
			return Box{}, jobs.FieldError("box", "%s is out of range", f.name)
		}
		if strings.HasPrefix(f.name, "size") && (*f.v <= 0 || *f.v > maxBoxSide) {
			return Box{}, jobs.FieldError("box", "%s must be above 0 and at most %g Å", f.name, maxBoxSide)
		}
	}
	b := Box{*r.CenterX, *r.CenterY, *r.CenterZ, *r.SizeX, *r.SizeY, *r.SizeZ}
	if b.Volume() > maxVolume {
		return Box{}, jobs.FieldError("box", "volume %.0f Å³ exceeds the limit of %.0f Å³", b.Volume(), maxVolume)
	}
	return b, nil
}

// paramDecodeError turns a JSON decoding error into a field error.
func paramDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		name := te.Field
		if strings.HasPrefix(name, "box.") {
			return jobs.FieldError("box", "%s must be a number", strings.TrimPrefix(name, "box."))
		}
		return jobs.FieldError(name, "must be a %s", jsonKind(te.Type.Kind().String()))
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return jobs.FieldError("parameters", "unknown parameter %s (known: exhaustiveness, num_poses, seed, energy_range, box)", rest)
	}
	return jobs.FieldError("parameters", "is not a valid JSON object: %v", err)
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"):
		return "whole number"
	case strings.HasPrefix(k, "float"):
		return "number"
	case k == "ptr", k == "struct":
		return "JSON object"
	}
	return fmt.Sprint(k)
}
