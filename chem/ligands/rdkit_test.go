package ligands

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"testing"
)

// rdkitPython returns a Python interpreter that can import RDKit. Without
// one the test is skipped, unless CI=true, where it fails: CI must run the
// oracle.
func rdkitPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import rdkit").Run() == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("RDKit is not importable by python3 and CI=true")
	}
	t.Skip("RDKit is not importable by python3 (apt-get install python3-rdkit)")
	return ""
}

// rdkitRejects asks RDKit which data rows (1-based) of a CSV file have a
// SMILES (in the named column) that Chem.MolFromSmiles rejects.
func rdkitRejects(t *testing.T, path, column string) []int {
	t.Helper()
	py := rdkitPython(t)
	const script = `
import csv, json, sys
from rdkit import Chem, RDLogger
RDLogger.DisableLog("rdApp.*")
with open(sys.argv[1], newline="", encoding="utf-8-sig") as f:
    rows = list(csv.DictReader(f))
bad = [i for i, r in enumerate(rows, 1) if Chem.MolFromSmiles(r[sys.argv[2]].strip()) is None]
json.dump(bad, sys.stdout)
`
	cmd := exec.Command(py, "-c", script, path, column)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("RDKit oracle: %v\n%s", err, stderr.Bytes())
	}
	var rows []int
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("RDKit oracle output %q: %v", out, err)
	}
	return rows
}

// TestBBBPAgainstRDKit checks that the rows Read rejects in BBBP.csv are
// exactly the rows RDKit rejects, and that the list in bbbpRDKitRejects
// (used when RDKit is absent) is current.
func TestBBBPAgainstRDKit(t *testing.T) {
	want := rdkitRejects(t, bbbpPath, "smiles")
	if !reflect.DeepEqual(want, bbbpRDKitRejects) {
		t.Errorf("RDKit rejects rows %v; bbbpRDKitRejects says %v", want, bbbpRDKitRejects)
	}
	lib, err := Read(openFixture(t, bbbpPath), FormatCSV, Options{DropInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, p := range lib.Dropped {
		got = append(got, p.Row)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dropped rows %v, RDKit rejects %v", got, want)
	}
	if len(lib.Entries) != 2050-len(want) {
		t.Errorf("%d entries, want %d", len(lib.Entries), 2050-len(want))
	}
}

// TestDelaneyAgainstRDKit checks that RDKit accepts every delaney SMILES,
// as Read does.
func TestDelaneyAgainstRDKit(t *testing.T) {
	if bad := rdkitRejects(t, delaneyPath, "smiles"); len(bad) != 0 {
		t.Errorf("RDKit rejects delaney rows %v", bad)
	}
}

// TestSDFAgainstRDKit checks that the SMILES written for every record of
// the RDKit-made SD file is the same molecule (connectivity, charges,
// hydrogens; stereochemistry aside) as the SMILES RDKit stored with it.
func TestSDFAgainstRDKit(t *testing.T) {
	py := rdkitPython(t)
	lib, err := ReadSDF(openFixture(t, fdaSDFPath), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := sdfItemValues(t, fdaSDFPath, "SMILES")
	var pairs [][2]string
	for i, e := range lib.Entries {
		pairs = append(pairs, [2]string{e.SMILES, want[i]})
	}
	in, _ := json.Marshal(pairs)
	const script = `
import json, sys
from rdkit import Chem
def canon(s):
    m = Chem.MolFromSmiles(s)
    return None if m is None else Chem.MolToSmiles(m, isomericSmiles=False)
json.dump([[canon(a), canon(b)] for a, b in json.load(sys.stdin)], sys.stdout)
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("RDKit: %v", err)
	}
	var canon [][2]*string
	if err := json.Unmarshal(out, &canon); err != nil {
		t.Fatal(err)
	}
	for i, c := range canon {
		if c[0] == nil || c[1] == nil || *c[0] != *c[1] {
			t.Errorf("%s: chem wrote %s; RDKit reads it as %v, the record is %v", lib.Entries[i].Name, pairs[i][0], deref(c[0]), deref(c[1]))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<rejected>"
	}
	return *s
}
