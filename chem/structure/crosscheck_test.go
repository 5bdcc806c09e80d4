package structure

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pythonAtomSite prints the _atom_site columns this package reads, one row
// a line, tab-separated, with gemmi's CIF parser or else Biopython's
// MMCIF2Dict: both are independent CIF tokenizers.
const pythonAtomSite = `
import sys
tags = ["Cartn_x", "Cartn_y", "Cartn_z", "label_atom_id", "label_comp_id", "auth_asym_id", "auth_seq_id", "type_symbol"]
try:
    import gemmi
    block = gemmi.cif.read(sys.argv[1]).sole_block()
    table = block.find("_atom_site.", tags)
    rows = [[row.str(i) for i in range(len(tags))] for row in table]
except ImportError:
    from Bio.PDB.MMCIF2Dict import MMCIF2Dict
    d = MMCIF2Dict(sys.argv[1])
    cols = [d["_atom_site." + t] for t in tags]
    rows = [list(r) for r in zip(*cols)]
for r in rows:
    print("\t".join(r))
`

// TestCrossCheckPython compares the mmCIF reader with gemmi or Biopython
// when /usr/bin/python3 has one of them; it is skipped otherwise.
func TestCrossCheckPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import importlib.util as u, sys; sys.exit(0 if u.find_spec('gemmi') or u.find_spec('Bio') else 1)").Run() != nil {
		t.Skip("no gemmi or Biopython in " + python)
	}
	for _, file := range []string{"1GBT.cif", "4CUP.cif"} {
		t.Run(file, func(t *testing.T) {
			_, s := readFixture(t, file)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, python, "-c", pythonAtomSite, filepath.Join("testdata", file)).Output()
			if err != nil {
				t.Fatalf("python: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(s.Atoms) {
				t.Fatalf("python %d rows, Read %d atoms", len(lines), len(s.Atoms))
			}
			for i, l := range lines {
				f := strings.Split(l, "\t")
				a := s.Atoms[i]
				got := []string{ff(a.X), ff(a.Y), ff(a.Z), a.Name, a.ResName, a.Chain, strconv.Itoa(a.ResSeq), strings.ToUpper(a.Element)}
				for j := range f {
					want := f[j]
					if j < 3 {
						x, _ := strconv.ParseFloat(want, 64)
						want = ff(x)
					}
					if j == 7 {
						want = strings.ToUpper(want)
					}
					if got[j] != want {
						t.Fatalf("row %d column %d: python %q, Read %q", i+1, j, want, got[j])
					}
				}
			}
		})
	}
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
