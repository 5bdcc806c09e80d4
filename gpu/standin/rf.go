package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The three RFantibody stage commands, as the hub's domain notes give them.
var (
	rfdiffusionFlags = map[string]flagKind{"-t": stringFlag, "-f": stringFlag, "-o": stringFlag, "-n": intFlag, "-l": stringFlag, "-h": stringFlag}
	proteinmpnnFlags = map[string]flagKind{"-i": stringFlag, "-o": stringFlag, "-n": intFlag}
	rf2Flags         = map[string]flagKind{"-i": stringFlag, "-o": stringFlag, "-r": intFlag}
	loopSpec         = regexp.MustCompile(`^[HL][123]:\d+(-\d+)?$`)
	hotspotSpec      = regexp.MustCompile(`^T\d+$`)
)

func requireFlags(flags map[string]string, pos []string, names ...string) error {
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	for _, n := range names {
		if flags[n] == "" {
			return fmt.Errorf("missing required option %s", n)
		}
	}
	return nil
}

// pdbChains returns the residues (chain + number) of a PDB file and
// whether it has PDBinfo-LABEL remarks.
func pdbChains(path string) (map[string]bool, map[byte]bool, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer f.Close()
	res, chains, labels := map[string]bool{}, map[byte]bool{}, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ATOM  ") && len(line) >= 26 {
			chains[line[21]] = true
			res[string(line[21])+strings.TrimSpace(line[22:26])] = true
		}
		if strings.HasPrefix(line, "REMARK PDBinfo-LABEL:") {
			labels = true
		}
	}
	return res, chains, labels, sc.Err()
}

// rfdiffusion writes <prefix>_<i>.pdb for i < -n: the designs of the real
// RFantibody reference run (nb_designs.qv), in turn.
func rfdiffusion(args []string) error {
	flags, pos, err := parseFlags(args, rfdiffusionFlags)
	if err != nil {
		return err
	}
	if err := requireFlags(flags, pos, "-t", "-f", "-o", "-n", "-l", "-h"); err != nil {
		return err
	}
	target, tchains, _, err := pdbChains(flags["-t"])
	if err != nil {
		return fmt.Errorf("-t: %w", err)
	}
	if !tchains['T'] {
		return fmt.Errorf("-t: target has no chain T")
	}
	_, fchains, labels, err := pdbChains(flags["-f"])
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	for c := range fchains {
		if c != 'H' && c != 'L' && c != 'T' {
			return fmt.Errorf("-f: framework is not HLT: chain %c", c)
		}
	}
	if !labels {
		return fmt.Errorf("-f: framework has no REMARK PDBinfo-LABEL CDR marks")
	}
	for _, l := range strings.Split(flags["-l"], ",") {
		if !loopSpec.MatchString(l) {
			return fmt.Errorf("-l: bad loop %q", l)
		}
	}
	for _, h := range strings.Split(flags["-h"], ",") {
		if !hotspotSpec.MatchString(h) || !target[h] {
			return fmt.Errorf("-h: hotspot %q is not a target residue", h)
		}
	}
	designs, err := quiverPDBs(filepath.Join(testdata, "rfantibody", "rfdiffusion_nb_designs.qv"))
	if err != nil {
		return err
	}
	n := intFlagValue(flags, "-n", 0)
	if n < 1 {
		return fmt.Errorf("-n must be at least 1")
	}
	prefix := flags["-o"]
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return err
	}
	for i := range n {
		if err := os.WriteFile(fmt.Sprintf("%s_%d.pdb", prefix, i), []byte(designs[i%len(designs)]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// quiverPDBs returns the PDB text of each design of a Quiver file.
func quiverPDBs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "QV_TAG"):
			if cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
		case strings.HasPrefix(line, "QV_SCORE"):
		default:
			cur.WriteString(line + "\n")
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no designs", path)
	}
	return out, nil
}

func inputPDBs(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.pdb"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("-i: no .pdb files in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// proteinmpnn writes <stem>_dldesign_<j>.pdb for each input backbone and
// j < -n (copies of the backbone: the stand-in designs no sequences).
func proteinmpnn(args []string) error {
	flags, pos, err := parseFlags(args, proteinmpnnFlags)
	if err != nil {
		return err
	}
	if err := requireFlags(flags, pos, "-i", "-o", "-n"); err != nil {
		return err
	}
	in, err := inputPDBs(flags["-i"])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(flags["-o"], 0o755); err != nil {
		return err
	}
	n := intFlagValue(flags, "-n", 0)
	for _, f := range in {
		stem := strings.TrimSuffix(filepath.Base(f), ".pdb")
		for j := range n {
			if err := copyFile(f, filepath.Join(flags["-o"], stem+"_dldesign_"+strconv.Itoa(j)+".pdb")); err != nil {
				return err
			}
		}
	}
	return nil
}

// rf2 writes <stem>_best.pdb for each input: the real RF2 reference
// output with its SCORE lines.
func rf2(args []string) error {
	flags, pos, err := parseFlags(args, rf2Flags)
	if err != nil {
		return err
	}
	if err := requireFlags(flags, pos, "-i", "-o", "-r"); err != nil {
		return err
	}
	in, err := inputPDBs(flags["-i"])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(flags["-o"], 0o755); err != nil {
		return err
	}
	src := filepath.Join(testdata, "rfantibody", "rf2_ab_proteinmpnn_output_best.pdb")
	for _, f := range in {
		stem := strings.TrimSuffix(filepath.Base(f), ".pdb")
		if err := copyFile(src, filepath.Join(flags["-o"], stem+"_best.pdb")); err != nil {
			return err
		}
	}
	return nil
}
