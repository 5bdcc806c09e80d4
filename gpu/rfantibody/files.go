package rfantibody

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Design is one designed antibody after RF2: its tag and RF2's scores.
type Design struct {
	Tag    string             `json:"tag"`
	Scores map[string]float64 `json:"scores"`
	// PassesFilter is the RFantibody authors' suggested filter:
	// interaction_pae < 10 and target_aligned_antibody_rmsd < 2 A.
	PassesFilter bool   `json:"passes_filter"`
	File         string `json:"file,omitempty"`
	Rank         int    `json:"rank"`
}

// ParseScores reads the trailing "SCORE key: value" lines of an RF2
// <tag>_best.pdb.
func ParseScores(r io.Reader) (map[string]float64, error) {
	scores := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		rest, ok := strings.CutPrefix(sc.Text(), "SCORE ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: SCORE line without ':'", n)
		}
		f, err := parseNumber(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: SCORE %s: %w", n, k, err)
		}
		scores[strings.TrimSpace(k)] = f
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("no SCORE lines")
	}
	return scores, nil
}

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%v is not a finite number", f)
	}
	return f, nil
}

// QuiverEntry is one design of a Quiver (.qv) file.
type QuiverEntry struct {
	Tag    string
	Scores map[string]float64
	// PDB is the design's PDB lines.
	PDB string
}

// ParseQuiver reads a Quiver file: for each design a "QV_TAG tag" line,
// optional "QV_SCORE tag k=v|k=v" lines, then its PDB lines.
func ParseQuiver(r io.Reader) ([]QuiverEntry, error) {
	var out []QuiverEntry
	var pdb strings.Builder
	flush := func() {
		if len(out) > 0 {
			out[len(out)-1].PDB = pdb.String()
		}
		pdb.Reset()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "QV_TAG"):
			flush()
			f := strings.Fields(line)
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: QV_TAG needs one tag", n)
			}
			out = append(out, QuiverEntry{Tag: f[1], Scores: map[string]float64{}})
		case strings.HasPrefix(line, "QV_SCORE"):
			f := strings.Fields(line)
			if len(f) != 3 || len(out) == 0 || f[1] != out[len(out)-1].Tag {
				return nil, fmt.Errorf("line %d: QV_SCORE does not follow its QV_TAG", n)
			}
			for _, kv := range strings.Split(f[2], "|") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("line %d: score %q is not key=value", n, kv)
				}
				x, err := parseNumber(v)
				if err != nil {
					return nil, fmt.Errorf("line %d: score %s: %w", n, k, err)
				}
				out[len(out)-1].Scores[k] = x
			}
		default:
			if len(out) == 0 {
				if strings.TrimSpace(line) == "" {
					continue
				}
				return nil, fmt.Errorf("line %d: PDB data before the first QV_TAG", n)
			}
			pdb.WriteString(line)
			pdb.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	if len(out) == 0 {
		return nil, fmt.Errorf("no QV_TAG entries")
	}
	return out, nil
}

// residue is one residue of a PDB file.
type residue struct {
	chain byte
	num   int
}

// pdbInfo is what the adapter checks of an input PDB.
type pdbInfo struct {
	chains   map[byte]int // residues per chain
	residues map[residue]bool
	order    []residue // residues in file order, for PDBinfo-LABEL indices
	labels   map[string][]int
}

// readPDB reads ATOM records (residues by chain) and RFantibody's
// "REMARK PDBinfo-LABEL: <index> <label>" lines.
func readPDB(text string) (*pdbInfo, error) {
	p := &pdbInfo{chains: map[byte]int{}, residues: map[residue]bool{}, labels: map[string][]int{}}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "ATOM  ") || strings.HasPrefix(line, "HETATM"):
			if len(line) < 54 {
				return nil, fmt.Errorf("line %d: ATOM record too short", i+1)
			}
			num, err := strconv.Atoi(strings.TrimSpace(line[22:26]))
			if err != nil {
				return nil, fmt.Errorf("line %d: bad residue number %q", i+1, line[22:26])
			}
			r := residue{chain: line[21], num: num}
			if !p.residues[r] {
				p.residues[r] = true
				p.chains[r.chain]++
				p.order = append(p.order, r)
			}
		case strings.HasPrefix(line, "REMARK PDBinfo-LABEL:"):
			f := strings.Fields(strings.TrimPrefix(line, "REMARK PDBinfo-LABEL:"))
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: PDBinfo-LABEL needs an index and a label", i+1)
			}
			idx, err := strconv.Atoi(f[0])
			if err != nil || idx < 1 {
				return nil, fmt.Errorf("line %d: bad PDBinfo-LABEL index %q", i+1, f[0])
			}
			p.labels[f[1]] = append(p.labels[f[1]], idx)
		}
	}
	if len(p.order) == 0 {
		return nil, fmt.Errorf("no ATOM records")
	}
	return p, nil
}

func (p *pdbInfo) chainList() string {
	var cs []string
	for c := range p.chains {
		cs = append(cs, string(c))
	}
	sort.Strings(cs)
	return strings.Join(cs, ",")
}
