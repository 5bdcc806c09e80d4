package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// chaiFlags are the options of `chai-lab fold` (chai_lab 0.6) the hub may
// pass.
var chaiFlags = map[string]flagKind{
	"--use-msa-server":      boolFlag,
	"--msa-directory":       stringFlag,
	"--constraint-path":     stringFlag,
	"--num-trunk-recycles":  intFlag,
	"--num-diffn-timesteps": intFlag,
	"--num-diffn-samples":   intFlag,
	"--seed":                intFlag,
	"--device":              stringFlag,
}

// chai plays `chai-lab fold FASTA OUTDIR`. The score archives it writes
// come from <exe dir>/chai-scores/scores.model_idx_<i>.npz (the test writes
// them with the keys and dtypes of chai_lab.ranking.rank.get_scores); the
// structures are copies of the bundled real Boltz-2 CDK2 mmCIF, as no real
// Chai-1 output is bundled.
func chai(args []string) error {
	if len(args) == 0 || args[0] != "fold" {
		return fmt.Errorf("usage: chai-lab fold [OPTIONS] FASTA_FILE OUTPUT_DIR")
	}
	flags, pos, err := parseFlags(args[1:], chaiFlags)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("fold takes FASTA_FILE and OUTPUT_DIR, got %d arguments", len(pos))
	}
	for _, f := range []string{"--msa-directory", "--constraint-path"} {
		if v, ok := flags[f]; ok {
			if err := mustExist(f, v); err != nil {
				return err
			}
		}
	}
	if err := checkChaiFASTA(pos[0]); err != nil {
		return err
	}
	out := pos[1]
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("output directory %s must be empty", out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	samples := intFlagValue(flags, "--num-diffn-samples", 5)
	for i := range samples {
		scores := filepath.Join(exeDir(), "chai-scores", fmt.Sprintf("scores.model_idx_%d.npz", i))
		if err := copyFile(scores, filepath.Join(out, fmt.Sprintf("scores.model_idx_%d.npz", i))); err != nil {
			return fmt.Errorf("stand-in fixture: %w", err)
		}
		cif := filepath.Join(testdata, "boltz", "output_boltz2_cdk2", "1ckp_cdk2_model_0.cif")
		if err := copyFile(cif, filepath.Join(out, fmt.Sprintf("pred.model_idx_%d.cif", i))); err != nil {
			return err
		}
	}
	fmt.Printf("Wrote %d samples to %s\n", samples, out)
	return nil
}

// checkChaiFASTA checks entity headers ">kind|name=X" with unique names
// and a body for each.
func checkChaiFASTA(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("FASTA_FILE: path %q does not exist", path)
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	body := true
	n, records := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, ">") {
			if records == 0 {
				return fmt.Errorf("%s:%d: sequence before the first header", path, n)
			}
			body = true
			continue
		}
		if !body {
			return fmt.Errorf("%s:%d: record without a body", path, n)
		}
		kind, name, ok := strings.Cut(line[1:], "|")
		if !ok {
			return fmt.Errorf("%s:%d: header %q is not kind|name=...", path, n, line)
		}
		switch kind {
		case "protein", "ligand", "rna", "dna", "glycan":
		default:
			return fmt.Errorf("%s:%d: unknown entity type %q", path, n, kind)
		}
		name = strings.TrimPrefix(name, "name=")
		if name == "" || names[name] {
			return fmt.Errorf("%s:%d: entity names must be unique and non-empty, got %q", path, n, name)
		}
		names[name] = true
		records++
		body = false
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if records == 0 || !body {
		return fmt.Errorf("%s: no complete records", path)
	}
	return nil
}
