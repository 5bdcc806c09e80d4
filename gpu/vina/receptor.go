package vina

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"omtx/gpu"
)

// receptorRecipe names the receptor preparation below; change it when the
// preparation changes so that cached receptors are rebuilt.
const receptorRecipe = "receptor-v2: ATOM records of the kept chains, first alternate location, " +
	"selenomethionine (MSE) as methionine, metal ions kept, waters and other HETATM dropped; obabel -xr --partialcharge gasteiger, " +
	"with -h -p 7.4 when the PDB has no hydrogens"

// metals are HETATM residues kept in a receptor (structural and catalytic
// ions that Vina types as metal donors).
var metals = map[string]bool{"ZN": true, "MG": true, "MN": true, "CA": true, "FE": true, "FE2": true, "CO": true, "NI": true, "CU": true}

// PDBAtom is an ATOM or HETATM record of a PDB file.
type PDBAtom struct {
	Het       bool
	Serial    int
	Name      string
	AltLoc    string
	ResName   string
	Chain     string
	ResSeq    int
	ICode     string
	X, Y, Z   float64
	Occupancy float64
	BFactor   float64
	Element   string
	Charge    int
}

// ParsePDBAtom reads the fixed columns of an ATOM or HETATM record.
func ParsePDBAtom(s string) (PDBAtom, error) {
	if len(s) < 54 {
		return PDBAtom{}, fmt.Errorf("atom record too short")
	}
	col := func(from, to int) string {
		if from >= len(s) {
			return ""
		}
		return strings.TrimSpace(s[from:min(to, len(s))])
	}
	a := PDBAtom{Het: strings.HasPrefix(s, "HETATM"), Name: col(12, 16), AltLoc: col(16, 17),
		ResName: col(17, 20), Chain: col(21, 22), ICode: col(26, 27), Occupancy: 1}
	var err error
	if a.Serial, err = strconv.Atoi(col(6, 11)); err != nil {
		return a, fmt.Errorf("atom serial %q is not a number", col(6, 11))
	}
	if a.ResSeq, err = strconv.Atoi(col(22, 26)); err != nil {
		return a, fmt.Errorf("residue number %q is not a number", col(22, 26))
	}
	for i, p := range []*float64{&a.X, &a.Y, &a.Z} {
		if *p, err = strconv.ParseFloat(col(30+8*i, 38+8*i), 64); err != nil {
			return a, fmt.Errorf("coordinate %q is not a number", col(30+8*i, 38+8*i))
		}
	}
	if v, err := strconv.ParseFloat(col(54, 60), 64); err == nil {
		a.Occupancy = v
	}
	if v, err := strconv.ParseFloat(col(60, 66), 64); err == nil {
		a.BFactor = v
	}
	a.Element = col(76, 78)
	if a.Element == "" {
		// Old files: the element is the name's letters.
		a.Element = strings.TrimLeft(a.Name, "0123456789")
		if len(a.Element) > 1 && !a.Het {
			a.Element = a.Element[:1]
		}
	}
	a.Element = elementCase(a.Element)
	if c := col(78, 80); len(c) == 2 {
		n := int(c[0] - '0')
		if c[0] >= '0' && c[0] <= '9' {
			if c[1] == '-' {
				n = -n
			}
			a.Charge = n
		}
	}
	return a, nil
}

func elementCase(e string) string {
	if e == "" {
		return e
	}
	return strings.ToUpper(e[:1]) + strings.ToLower(e[1:])
}

// cleanReceptor keeps the atoms a docking run keeps from a PDB file: ATOM
// records of the given chains (all when empty), their first alternate
// location, and metal ions; waters and crystal ligands go. It returns the
// kept records as PDB text, the parsed atoms and whether any hydrogen is
// present.
func cleanReceptor(pdb []byte, chains []string) ([]byte, []PDBAtom, bool, error) {
	var out bytes.Buffer
	var atoms []PDBAtom
	hasH := false
	sc := bufio.NewScanner(bytes.NewReader(pdb))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	lastChain := ""
	for sc.Scan() {
		line++
		s := sc.Text()
		if strings.HasPrefix(s, "ENDMDL") {
			break // the first model only
		}
		if !strings.HasPrefix(s, "ATOM  ") && !strings.HasPrefix(s, "HETATM") {
			continue
		}
		a, err := ParsePDBAtom(s)
		if err != nil {
			return nil, nil, false, fmt.Errorf("receptor line %d: %w", line, err)
		}
		if a.Het && a.ResName == "MSE" {
			s, a = mseAsMet(s, a)
		}
		if a.Het && !metals[a.ResName] {
			continue
		}
		if len(chains) > 0 && !slices.Contains(chains, a.Chain) {
			continue
		}
		if a.AltLoc != "" && a.AltLoc != "A" && a.AltLoc != "1" {
			continue
		}
		if a.Element == "H" || a.Element == "D" {
			hasH = true
		}
		if lastChain != "" && a.Chain != lastChain {
			out.WriteString("TER\n")
		}
		lastChain = a.Chain
		if a.AltLoc != "" {
			s = s[:16] + " " + s[17:]
			a.AltLoc = ""
		}
		out.WriteString(s)
		out.WriteByte('\n')
		atoms = append(atoms, a)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, false, fmt.Errorf("receptor: %w", err)
	}
	if len(atoms) == 0 {
		return nil, nil, false, fmt.Errorf("receptor: no protein atoms")
	}
	out.WriteString("TER\nEND\n")
	return out.Bytes(), atoms, hasH, nil
}

// UploadedTarget is the target id of a job that docks into an uploaded
// receptor.
const UploadedTarget = "uploaded"

// mseAsMet rewrites a selenomethionine (MSE) HETATM record as the
// methionine ATOM record it stands for (SE becomes SD, a sulfur), as
// structure preparation tools do: crystallographers use MSE for phasing,
// it is part of the chain, and Vina has no selenium type.
func mseAsMet(line string, a PDBAtom) (string, PDBAtom) {
	b := []byte(line)
	for len(b) < 78 {
		b = append(b, ' ')
	}
	copy(b[0:6], "ATOM  ")
	copy(b[17:20], "MET")
	a.Het, a.ResName = false, "MET"
	if a.Name == "SE" {
		copy(b[12:16], " SD ")
		copy(b[76:78], " S")
		a.Name, a.Element = "SD", "S"
	}
	return strings.TrimRight(string(b), " "), a
}

// receptor is a prepared receptor: the cleaned PDB (for structure.cif)
// and its PDBQT (for Vina).
type receptor struct {
	PDB   string // path of the cleaned PDB
	PDBQT string // path of the PDBQT
	Key   string // cache key
	Atoms []PDBAtom
	HasH  bool // hydrogens came with the PDB (else obabel added polar ones)
}

// prepareReceptor converts a bundled target's receptor, once per content
// and recipe when the task has a cache.
func (m *Model) prepareReceptor(ctx context.Context, t gpu.Task, tg Target) (*receptor, error) {
	var raw []byte
	var err error
	if tg.ID == UploadedTarget {
		raw, err = os.ReadFile(t.Receptor)
	} else {
		raw, err = fs.ReadFile(m.cfg.Targets, tg.Receptor)
	}
	if err != nil {
		return nil, fmt.Errorf("receptor %s: %w", tg.ID, err)
	}
	clean, atoms, hasH, err := cleanReceptor(raw, tg.Chains)
	if err != nil {
		return nil, gpu.Permanent(fmt.Errorf("target %s: %w", tg.ID, err))
	}
	sum := sha256.Sum256(clean)
	key := gpu.Key(hex.EncodeToString(sum[:]), receptorRecipe)
	build := func(dir string) error {
		pdb := filepath.Join(dir, "receptor.pdb")
		if err := os.WriteFile(pdb, clean, 0o644); err != nil {
			return err
		}
		args := []string{pdb, "-xr"}
		if !hasH {
			args = append(args, "-h", "-p", "7.4")
		}
		args = append(args, "--partialcharge", "gasteiger", "-O", filepath.Join(dir, "receptor.pdbqt"))
		if err := t.Exec.Run(ctx, gpu.Cmd{Path: m.cfg.OpenBabel, Args: args, Dir: dir}); err != nil {
			return fmt.Errorf("receptor %s: %w", tg.ID, err)
		}
		q, err := os.ReadFile(filepath.Join(dir, "receptor.pdbqt"))
		if err != nil || !bytes.Contains(q, []byte("\nATOM")) {
			return gpu.Permanent(fmt.Errorf("receptor %s: Open Babel wrote no PDBQT atoms", tg.ID))
		}
		return nil
	}
	var dir string
	if t.Cache != nil {
		dir, err = t.Cache.Get("vina-receptor", key, build)
	} else {
		dir = filepath.Join(t.Dir, "receptor")
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = build(dir)
		}
	}
	if err != nil {
		return nil, err
	}
	return &receptor{PDB: filepath.Join(dir, "receptor.pdb"), PDBQT: filepath.Join(dir, "receptor.pdbqt"),
		Key: key, Atoms: atoms, HasH: hasH}, nil
}
