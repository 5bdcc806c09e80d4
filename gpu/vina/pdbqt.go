package vina

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Pose is one docked pose of a Vina output file.
type Pose struct {
	// Rank is the pose's place in the file, 1 for the best.
	Rank int `json:"rank"`
	// Affinity is Vina's estimated binding free energy in kcal/mol (lower
	// is better).
	Affinity float64 `json:"affinity"`
	// RMSDLB and RMSDUB are the lower and upper bound RMSD (Å) from the
	// best pose, as Vina computes them.
	RMSDLB float64 `json:"rmsd_lb"`
	RMSDUB float64 `json:"rmsd_ub"`
	// Atoms are the pose's atom records.
	Atoms []PDBQTAtom `json:"-"`
}

// PDBQTAtom is an ATOM or HETATM record of a PDBQT file.
type PDBQTAtom struct {
	Serial  int
	Name    string
	X, Y, Z float64
	Charge  float64
	Type    string // AutoDock atom type: C, A, N, NA, OA, HD, ...
}

// ParsePoses reads a Vina output PDBQT: MODEL blocks, each with a
// "REMARK VINA RESULT: affinity rmsd_lb rmsd_ub" line.
func ParsePoses(r io.Reader) ([]Pose, error) {
	var poses []Pose
	var cur *Pose
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	haveResult := false
	for sc.Scan() {
		line++
		s := sc.Text()
		switch {
		case strings.HasPrefix(s, "MODEL"):
			if cur != nil {
				return nil, fmt.Errorf("pdbqt line %d: MODEL inside a MODEL", line)
			}
			poses = append(poses, Pose{Rank: len(poses) + 1})
			cur = &poses[len(poses)-1]
			haveResult = false
		case strings.HasPrefix(s, "ENDMDL"):
			if cur == nil {
				return nil, fmt.Errorf("pdbqt line %d: ENDMDL without MODEL", line)
			}
			if !haveResult {
				return nil, fmt.Errorf("pdbqt line %d: model %d has no REMARK VINA RESULT", line, cur.Rank)
			}
			if len(cur.Atoms) == 0 {
				return nil, fmt.Errorf("pdbqt line %d: model %d has no atoms", line, cur.Rank)
			}
			cur = nil
		case strings.HasPrefix(s, "REMARK VINA RESULT:"):
			if cur == nil {
				return nil, fmt.Errorf("pdbqt line %d: VINA RESULT outside a MODEL", line)
			}
			f := strings.Fields(strings.TrimPrefix(s, "REMARK VINA RESULT:"))
			if len(f) < 3 {
				return nil, fmt.Errorf("pdbqt line %d: want affinity rmsd_lb rmsd_ub", line)
			}
			var vals [3]float64
			for i := range vals {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return nil, fmt.Errorf("pdbqt line %d: %q is not a number", line, f[i])
				}
				vals[i] = v
			}
			cur.Affinity, cur.RMSDLB, cur.RMSDUB = vals[0], vals[1], vals[2]
			haveResult = true
		case strings.HasPrefix(s, "ATOM") || strings.HasPrefix(s, "HETATM"):
			if cur == nil {
				return nil, fmt.Errorf("pdbqt line %d: atom outside a MODEL", line)
			}
			a, err := parsePDBQTAtom(s)
			if err != nil {
				return nil, fmt.Errorf("pdbqt line %d: %w", line, err)
			}
			cur.Atoms = append(cur.Atoms, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pdbqt: %w", err)
	}
	if cur != nil {
		return nil, fmt.Errorf("pdbqt: model %d has no ENDMDL", cur.Rank)
	}
	if len(poses) == 0 {
		return nil, fmt.Errorf("pdbqt: no MODEL")
	}
	return poses, nil
}

// parsePDBQTAtom reads the fixed columns of a PDBQT atom record: serial
// 7-11, name 13-16, coordinates 31-54, charge 71-76, type 78-79.
func parsePDBQTAtom(s string) (PDBQTAtom, error) {
	if len(s) < 54 {
		return PDBQTAtom{}, fmt.Errorf("atom record too short")
	}
	var a PDBQTAtom
	var err error
	if a.Serial, err = strconv.Atoi(strings.TrimSpace(s[6:11])); err != nil {
		return a, fmt.Errorf("atom serial %q is not a number", s[6:11])
	}
	a.Name = strings.TrimSpace(s[12:16])
	for i, p := range []*float64{&a.X, &a.Y, &a.Z} {
		col := s[30+8*i : 38+8*i]
		if *p, err = strconv.ParseFloat(strings.TrimSpace(col), 64); err != nil {
			return a, fmt.Errorf("coordinate %q is not a number", col)
		}
	}
	if len(s) >= 76 {
		if q, err := strconv.ParseFloat(strings.TrimSpace(s[70:76]), 64); err == nil {
			a.Charge = q
		}
	}
	if len(s) > 77 {
		a.Type = strings.TrimSpace(s[77:])
	}
	return a, nil
}
