package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// boltzFlags are the options of `boltz predict` (v2.2) the hub may pass.
var boltzFlags = map[string]flagKind{
	"--out_dir":                    stringFlag,
	"--cache":                      stringFlag,
	"--accelerator":                stringFlag,
	"--devices":                    intFlag,
	"--output_format":              stringFlag,
	"--override":                   boolFlag,
	"--seed":                       intFlag,
	"--recycling_steps":            intFlag,
	"--sampling_steps":             intFlag,
	"--diffusion_samples":          intFlag,
	"--use_msa_server":             boolFlag,
	"--msa_server_url":             stringFlag,
	"--use_potentials":             boolFlag,
	"--sampling_steps_affinity":    intFlag,
	"--diffusion_samples_affinity": intFlag,
	"--affinity_mw_correction":     boolFlag,
	"--write_full_pae":             boolFlag,
	"--num_workers":                intFlag,
}

// boltzInput is what the stand-in reads from one input YAML.
type boltzInput struct {
	stem     string
	proteins []boltzProtein
	ligands  map[string]string // id -> SMILES
	binder   string
}

type boltzProtein struct {
	id, sequence, msa string
	hasMSA            bool
}

func boltz(args []string) error {
	if len(args) == 0 || args[0] != "predict" {
		return fmt.Errorf("usage: boltz predict DATA [OPTIONS]")
	}
	flags, pos, err := parseFlags(args[1:], boltzFlags)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("predict takes one DATA argument, got %d", len(pos))
	}
	if v, ok := flags["--accelerator"]; ok && v != "gpu" && v != "cpu" && v != "tpu" {
		return fmt.Errorf("invalid value for --accelerator: %q is not one of 'gpu', 'cpu', 'tpu'", v)
	}
	if v, ok := flags["--output_format"]; ok && v != "pdb" && v != "mmcif" {
		return fmt.Errorf("invalid value for --output_format: %q is not one of 'pdb', 'mmcif'", v)
	}
	data := pos[0]
	st, err := os.Stat(data)
	if err != nil {
		return fmt.Errorf("DATA: path %q does not exist", data)
	}
	var files []string
	if st.IsDir() {
		entries, err := os.ReadDir(data)
		if err != nil {
			return err
		}
		for _, e := range entries {
			files = append(files, filepath.Join(data, e.Name()))
		}
		sort.Strings(files)
	} else {
		files = []string{data}
	}
	useServer := flags["--use_msa_server"] == "true"
	var inputs []boltzInput
	for _, f := range files {
		ext := strings.ToLower(filepath.Ext(f))
		if ext != ".yaml" && ext != ".yml" {
			return fmt.Errorf("unable to parse filetype %s of %s", ext, f)
		}
		in, err := readBoltzYAML(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, p := range in.proteins {
			if !p.hasMSA && !useServer {
				return fmt.Errorf("%s: missing MSA for protein %s; use --use_msa_server or give msa: (a path, or empty)", f, p.id)
			}
			if p.hasMSA && p.msa != "empty" {
				if _, err := os.Stat(p.msa); err != nil {
					return fmt.Errorf("%s: MSA file %s not found", f, p.msa)
				}
			}
		}
		inputs = append(inputs, in)
	}
	outDir := flags["--out_dir"]
	if outDir == "" {
		outDir = "."
	}
	stem := strings.TrimSuffix(filepath.Base(data), filepath.Ext(data))
	root := filepath.Join(outDir, "boltz_results_"+stem)
	samples := intFlagValue(flags, "--diffusion_samples", 1)
	fix := filepath.Join(testdata, "boltz")
	// Structures first, for every input, then the affinity pass, as
	// boltz's two trainer.predict passes do.
	for _, in := range inputs {
		pred := filepath.Join(root, "predictions", in.stem)
		if useServer {
			for i, p := range in.proteins {
				if p.hasMSA {
					continue
				}
				// The CSV layout boltz writes for a server MSA: a key
				// column (-1 for unpaired rows) and the aligned sequence.
				csv := "key,sequence\n-1," + p.sequence
				path := filepath.Join(root, "msa", fmt.Sprintf("%s_%d.csv", in.stem, i))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
					return err
				}
			}
		}
		src := filepath.Join(fix, "output_boltz2_cdk2")
		srcStem := "1ckp_cdk2"
		if len(in.ligands) == 0 {
			src, srcStem = filepath.Join(fix, "output_boltz_pdl1_binder"), "pdl1_binder"
		}
		for k := range samples {
			pairs := [][2]string{
				{srcStem + "_model_0.cif", fmt.Sprintf("%s_model_%d.cif", in.stem, k)},
				{"confidence_" + srcStem + "_model_0.json", fmt.Sprintf("confidence_%s_model_%d.json", in.stem, k)},
				{"plddt_" + srcStem + "_model_0.npz", fmt.Sprintf("plddt_%s_model_%d.npz", in.stem, k)},
			}
			if flags["--write_full_pae"] == "true" && len(in.ligands) > 0 {
				pairs = append(pairs, [2]string{"pae_" + srcStem + "_model_0.npz", fmt.Sprintf("pae_%s_model_%d.npz", in.stem, k)})
			}
			for _, p := range pairs {
				if err := copyFile(filepath.Join(src, p[0]), filepath.Join(pred, p[1])); err != nil {
					return err
				}
			}
		}
	}
	for _, in := range inputs {
		if in.binder == "" {
			continue
		}
		pred := filepath.Join(root, "predictions", in.stem)
		src := filepath.Join(fix, "output_boltz2_cdk2", "affinity_1ckp_cdk2.json")
		if err := copyFile(src, filepath.Join(pred, "affinity_"+in.stem+".json")); err != nil {
			return err
		}
	}
	fmt.Printf("Predicted %d inputs into %s\n", len(inputs), root)
	holdWhile(filepath.Join(exeDir(), "boltz.hold"))
	return nil
}

// readBoltzYAML reads the subset of the Boltz input schema the hub
// writes: one protein list entry per chain, ligands by SMILES, and an
// affinity property. Anything else is an error.
func readBoltzYAML(path string) (boltzInput, error) {
	in := boltzInput{
		stem:    strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		ligands: map[string]string{},
	}
	f, err := os.Open(path)
	if err != nil {
		return in, err
	}
	defer f.Close()
	var section, entity string
	var cur *boltzProtein
	var ligID string
	version := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			key, val, _ := strings.Cut(trim, ":")
			switch key {
			case "version":
				if strings.TrimSpace(val) != "1" {
					return in, fmt.Errorf("line %d: unsupported version %q", n, val)
				}
				version = true
			case "sequences", "properties":
			default:
				return in, fmt.Errorf("line %d: unknown top-level key %q", n, key)
			}
			section = key
			continue
		}
		if rest, ok := strings.CutPrefix(trim, "- "); ok {
			entity = strings.TrimSuffix(rest, ":")
			switch {
			case section == "sequences" && entity == "protein":
				in.proteins = append(in.proteins, boltzProtein{})
				cur = &in.proteins[len(in.proteins)-1]
			case section == "sequences" && entity == "ligand":
				ligID = ""
			case section == "properties" && entity == "affinity":
			default:
				return in, fmt.Errorf("line %d: unexpected entry %q in %s", n, entity, section)
			}
			continue
		}
		key, raw, ok := strings.Cut(trim, ":")
		if !ok {
			return in, fmt.Errorf("line %d: expected key: value", n)
		}
		val, err := yamlScalar(strings.TrimSpace(raw))
		if err != nil {
			return in, fmt.Errorf("line %d: %w", n, err)
		}
		switch {
		case entity == "protein" && key == "id":
			cur.id = val
		case entity == "protein" && key == "sequence":
			cur.sequence = val
		case entity == "protein" && key == "msa":
			cur.msa, cur.hasMSA = val, true
		case entity == "ligand" && key == "id":
			ligID = val
		case entity == "ligand" && key == "smiles":
			if ligID == "" {
				return in, fmt.Errorf("line %d: ligand smiles before its id", n)
			}
			if val == "" || strings.ContainsAny(val, " \t") {
				return in, fmt.Errorf("line %d: bad SMILES %q", n, val)
			}
			in.ligands[ligID] = val
		case entity == "affinity" && key == "binder":
			in.binder = val
		default:
			return in, fmt.Errorf("line %d: unexpected key %q for %s", n, key, entity)
		}
	}
	if err := sc.Err(); err != nil {
		return in, err
	}
	if !version {
		return in, fmt.Errorf("no version")
	}
	if len(in.proteins) == 0 {
		return in, fmt.Errorf("no protein")
	}
	for _, p := range in.proteins {
		if p.id == "" || p.sequence == "" {
			return in, fmt.Errorf("protein without id or sequence")
		}
	}
	if in.binder != "" {
		if _, ok := in.ligands[in.binder]; !ok {
			return in, fmt.Errorf("affinity binder %q is not a ligand id", in.binder)
		}
	}
	return in, nil
}

// yamlScalar decodes a plain or single-quoted YAML scalar.
func yamlScalar(s string) (string, error) {
	if !strings.HasPrefix(s, "'") {
		if strings.HasPrefix(s, `"`) {
			return "", fmt.Errorf("double-quoted scalars are not written by the hub: %s", s)
		}
		return s, nil
	}
	if len(s) < 2 || !strings.HasSuffix(s, "'") {
		return "", fmt.Errorf("unterminated quoted scalar %s", s)
	}
	body := s[1 : len(s)-1]
	if strings.Contains(strings.ReplaceAll(body, "''", ""), "'") {
		return "", fmt.Errorf("unescaped quote in %s", s)
	}
	return strings.ReplaceAll(body, "''", "'"), nil
}
