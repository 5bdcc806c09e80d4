package vina

import (
	"fmt"
	"strconv"
	"strings"
)

// SDFRecord is one record of an SD file: its molfile block and data items.
type SDFRecord struct {
	Molfile string
	Data    map[string]string
}

// Title returns the molfile's first line.
func (r SDFRecord) Title() string {
	t, _, _ := strings.Cut(r.Molfile, "\n")
	return strings.TrimRight(t, "\r")
}

// SplitSDF splits SD file text into records ("$$$$" lines end them).
func SplitSDF(text string) []SDFRecord {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var recs []SDFRecord
	for _, chunk := range strings.Split(text, "$$$$\n") {
		if strings.TrimSpace(chunk) == "" {
			continue
		}
		chunk = strings.TrimSuffix(chunk, "$$$$")
		mol, rest, found := strings.Cut(chunk, "M  END\n")
		if !found {
			mol, rest = strings.TrimSuffix(chunk, "\n"), ""
			if strings.HasSuffix(mol, "M  END") {
				mol = strings.TrimSuffix(mol, "M  END")
			}
		}
		r := SDFRecord{Molfile: mol + "M  END\n", Data: map[string]string{}}
		lines := strings.Split(rest, "\n")
		for i := 0; i < len(lines); i++ {
			l := lines[i]
			if !strings.HasPrefix(l, ">") {
				continue
			}
			start := strings.Index(l, "<")
			end := strings.LastIndex(l, ">")
			if start < 0 || end <= start {
				continue
			}
			name := l[start+1 : end]
			var val []string
			for i+1 < len(lines) && lines[i+1] != "" {
				i++
				val = append(val, lines[i])
			}
			r.Data[name] = strings.Join(val, "\n")
		}
		recs = append(recs, r)
	}
	return recs
}

// MolfileAtoms reads the atoms (element, coordinates, charge) of a V2000
// molfile block, in file order, hydrogens included.
func MolfileAtoms(block string) ([]LigandAtom, error) {
	lines := strings.Split(block, "\n")
	if len(lines) < 4 {
		return nil, fmt.Errorf("molfile: too short")
	}
	if strings.Contains(lines[3], "V3000") {
		return nil, fmt.Errorf("molfile: V3000 is not supported here")
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[3][:min(3, len(lines[3]))]))
	if err != nil || len(lines) < 4+n {
		return nil, fmt.Errorf("molfile: bad counts line %q", lines[3])
	}
	atoms := make([]LigandAtom, n)
	for i := range n {
		l := lines[4+i]
		if len(l) < 34 {
			return nil, fmt.Errorf("molfile atom %d: line too short", i+1)
		}
		var a LigandAtom
		for j, p := range []*float64{&a.X, &a.Y, &a.Z} {
			if *p, err = strconv.ParseFloat(strings.TrimSpace(l[10*j:10*j+10]), 64); err != nil {
				return nil, fmt.Errorf("molfile atom %d: bad coordinate", i+1)
			}
		}
		a.Element = strings.TrimSpace(l[31:min(34, len(l))])
		atoms[i] = a
	}
	for _, l := range lines[4+n:] {
		if !strings.HasPrefix(l, "M  CHG") {
			continue
		}
		f := strings.Fields(l[6:])
		for k := 1; k+1 < len(f); k += 2 {
			idx, err1 := strconv.Atoi(f[k])
			q, err2 := strconv.Atoi(f[k+1])
			if err1 == nil && err2 == nil && idx >= 1 && idx <= n {
				atoms[idx-1].Charge = q
			}
		}
	}
	return atoms, nil
}
