package main

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"omtx/api"
)

// formulaNames are ligand names and error texts a spreadsheet would run
// as formulas if a cell began with them.
var formulaNames = []string{`=HYPERLINK("http://evil.example","x")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"}

// TestResultsCSVFormulaInjection: `omtx results --format csv` guards
// every text cell (ligand name, SMILES, job id, status, error) that
// starts with = + - @ TAB or CR, as the server's batch_results.csv does;
// numbers stay numbers, negative ones included.
func TestResultsCSVFormulaInjection(t *testing.T) {
	t.Parallel()
	aff := -9.5
	page := &api.ResultsPage{Affinity: api.Metric{Name: "affinity", Unit: "kcal/mol", Better: "lower"}}
	var rows []api.ResultRow
	for i, name := range formulaNames {
		rows = append(rows, api.ResultRow{Index: i, JobID: name, LigandName: name, SMILES: name, Status: name, Affinity: &aff, Error: name})
	}
	var out bytes.Buffer
	if err := writeResultsCSV(&out, page, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 {
		t.Fatalf("%d records for %d rows", len(recs), len(rows))
	}
	for i, rec := range recs[1:] {
		for j, cell := range rec {
			switch recs[0][j] {
			case "index":
			case "affinity_kcal_per_mol":
				if cell != "-9.5" {
					t.Errorf("row %d: affinity cell %q, want the number -9.5", i, cell)
				}
			default:
				if cell != "'"+formulaNames[i] {
					t.Errorf("row %d, %s: cell %q, want it guarded as %q", i, recs[0][j], cell, "'"+formulaNames[i])
				}
				if strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("row %d, %s: cell %q would run as a formula", i, recs[0][j], cell)
				}
			}
		}
	}
}
