package boltz2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"omtx/gpu"
	"omtx/gpu/npy"
)

// Confidence is one structure's confidence_<stem>_model_<k>.json.
type Confidence struct {
	ConfidenceScore float64                       `json:"confidence_score"`
	PTM             float64                       `json:"ptm"`
	IPTM            float64                       `json:"iptm"`
	LigandIPTM      float64                       `json:"ligand_iptm"`
	ProteinIPTM     float64                       `json:"protein_iptm"`
	ComplexPLDDT    float64                       `json:"complex_plddt"`
	ComplexIPLDDT   float64                       `json:"complex_iplddt"`
	ComplexPDE      float64                       `json:"complex_pde"`
	ComplexIPDE     float64                       `json:"complex_ipde"`
	ChainsPTM       map[string]float64            `json:"chains_ptm"`
	PairChainsIPTM  map[string]map[string]float64 `json:"pair_chains_iptm"`
}

// Affinity is affinity_<stem>.json: the ensemble's prediction and its two
// members'.
type Affinity struct {
	PredValue          float64 `json:"affinity_pred_value"`
	ProbabilityBinary  float64 `json:"affinity_probability_binary"`
	PredValue1         float64 `json:"affinity_pred_value1"`
	ProbabilityBinary1 float64 `json:"affinity_probability_binary1"`
	PredValue2         float64 `json:"affinity_pred_value2"`
	ProbabilityBinary2 float64 `json:"affinity_probability_binary2"`
}

// Details is what a Boltz-2 job adds to its results.json.
type Details struct {
	Engine    string `json:"engine"`
	InputStem string `json:"input_stem"`
	Ligand    struct {
		Name       string `json:"name,omitempty"`
		SMILES     string `json:"smiles"`
		HeavyAtoms int    `json:"heavy_atoms"`
	} `json:"ligand"`
	MSA struct {
		Mode string `json:"mode"`
		Note string `json:"note"`
	} `json:"msa"`
	// Affinity is affinity_<stem>.json as boltz wrote it.
	Affinity json.RawMessage `json:"affinity"`
	// AffinityUnits states units and directions next to the numbers.
	AffinityUnits string `json:"affinity_units"`
	// Models are the structures, best first (model_0 is structure.cif),
	// with their confidence JSON as boltz wrote it.
	Models []ModelDetail `json:"models"`
	// PLDDT is model_0's per-token pLDDT (0-1) from plddt_<stem>_model_0.npz:
	// protein residues, then one token per ligand heavy atom.
	PLDDT     []float64 `json:"plddt"`
	PLDDTMean float64   `json:"plddt_mean"`
	Warnings  []string  `json:"warnings,omitempty"`
}

// ModelDetail is one predicted structure.
type ModelDetail struct {
	Rank       int             `json:"rank"`
	File       string          `json:"file"`
	Confidence json.RawMessage `json:"confidence"`
}

// decodeStrict decodes a whole JSON object into v, refusing trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// readAffinity reads and checks an affinity JSON: all six keys present and
// finite, probabilities within 0-1.
func readAffinity(path string) (Affinity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Affinity{}, err
	}
	return parseAffinity(b)
}

func parseAffinity(b []byte) (Affinity, error) {
	var raw map[string]*float64
	if err := decodeStrict(b, &raw); err != nil {
		return Affinity{}, fmt.Errorf("affinity JSON: %w", err)
	}
	for _, k := range []string{MetricAffinity, MetricProbability, MetricAffinity1, MetricProbability1, MetricAffinity2, MetricProbability2} {
		v, ok := raw[k]
		if !ok || v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
			return Affinity{}, fmt.Errorf("affinity JSON: %s missing or not a number", k)
		}
	}
	var a Affinity
	if err := json.Unmarshal(b, &a); err != nil {
		return Affinity{}, fmt.Errorf("affinity JSON: %w", err)
	}
	for _, p := range []float64{a.ProbabilityBinary, a.ProbabilityBinary1, a.ProbabilityBinary2} {
		if p < 0 || p > 1 {
			return Affinity{}, fmt.Errorf("affinity JSON: probability %v outside 0-1", p)
		}
	}
	return a, nil
}

var confidenceKeys = []string{MetricConfidence, MetricPTM, MetricIPTM, MetricLigandIPTM, MetricProteinIPTM,
	MetricComplexPLDDT, MetricComplexIPLDDT, MetricComplexPDE, MetricComplexIPDE}

func parseConfidence(b []byte) (Confidence, error) {
	var raw map[string]json.RawMessage
	if err := decodeStrict(b, &raw); err != nil {
		return Confidence{}, fmt.Errorf("confidence JSON: %w", err)
	}
	for _, k := range confidenceKeys {
		if _, ok := raw[k]; !ok {
			return Confidence{}, fmt.Errorf("confidence JSON: %s missing", k)
		}
	}
	var c Confidence
	if err := json.Unmarshal(b, &c); err != nil {
		return Confidence{}, fmt.Errorf("confidence JSON: %w", err)
	}
	return c, nil
}

// Metrics returns the job's numbers: the confidence of the best structure,
// the affinity, and the derived pIC50 and approximate free energy.
func Metrics(c Confidence, a Affinity) map[string]float64 {
	pic50 := pIC50OffsetFromLog10IC50u - a.PredValue
	m := map[string]float64{
		MetricAffinity:      a.PredValue,
		MetricProbability:   a.ProbabilityBinary,
		MetricAffinity1:     a.PredValue1,
		MetricProbability1:  a.ProbabilityBinary1,
		MetricAffinity2:     a.PredValue2,
		MetricProbability2:  a.ProbabilityBinary2,
		MetricPIC50:         pic50,
		MetricDeltaG:        -kcalPerMolPerLog10At298K * pic50,
		MetricConfidence:    c.ConfidenceScore,
		MetricPTM:           c.PTM,
		MetricIPTM:          c.IPTM,
		MetricLigandIPTM:    c.LigandIPTM,
		MetricProteinIPTM:   c.ProteinIPTM,
		MetricComplexPLDDT:  c.ComplexPLDDT,
		MetricComplexIPLDDT: c.ComplexIPLDDT,
		MetricComplexPDE:    c.ComplexPDE,
		MetricComplexIPDE:   c.ComplexIPDE,
	}
	// Per-chain scores: written by boltz 2.x; absent ones stay absent.
	if v, ok := c.ChainsPTM["0"]; ok {
		m[MetricProteinPTM] = v
	}
	if v, ok := c.PairChainsIPTM["0"]["1"]; ok {
		m[MetricPairIPTM] = v
	}
	return m
}

// collect parses one task's prediction folder and copies the files it
// keeps into the task's Dir.
func (m *Model) collect(pt *prepared, pred string) (*gpu.Output, error) {
	stem := pt.stem
	affPath := filepath.Join(pred, "affinity_"+stem+".json")
	affRaw, err := os.ReadFile(affPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoPrediction, err)
	}
	aff, err := parseAffinity(affRaw)
	if err != nil {
		return nil, err
	}
	d := &Details{Engine: "boltz " + Version, InputStem: stem, Affinity: json.RawMessage(compact(affRaw)),
		AffinityUnits: "affinity_pred_value*: log10(IC50 in uM), lower binds tighter; affinity_probability_binary*: probability 0-1 that it binds, higher is better"}
	d.Ligand.Name, d.Ligand.SMILES, d.Ligand.HeavyAtoms = pt.task.Ligand.Name, pt.task.Ligand.SMILES, pt.ligand.HeavyAtoms
	d.MSA.Mode, d.MSA.Note = pt.msa.Mode, pt.msa.Note
	if pt.ligand.Warning != "" {
		d.Warnings = append(d.Warnings, pt.ligand.Warning)
	}
	if pt.msa.Mode == MSASingleSequence {
		d.Warnings = append(d.Warnings, pt.msa.Note)
	}
	files := map[string]string{}
	keep := func(name, src string) error {
		dst := filepath.Join(pt.task.Dir, name)
		if err := gpu.LinkOrCopy(src, dst); err != nil {
			return fmt.Errorf("boltz2: keep %s: %w", name, err)
		}
		files[name] = dst
		return nil
	}
	var best Confidence
	for k := 0; ; k++ {
		confName := fmt.Sprintf("confidence_%s_model_%d.json", stem, k)
		cifName := fmt.Sprintf("%s_model_%d.cif", stem, k)
		raw, err := os.ReadFile(filepath.Join(pred, confName))
		if os.IsNotExist(err) && k > 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNoPrediction, err)
		}
		c, err := parseConfidence(raw)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(pred, cifName)); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoPrediction, err)
		}
		if k == 0 {
			best = c
		}
		d.Models = append(d.Models, ModelDetail{Rank: k, File: cifName, Confidence: json.RawMessage(compact(raw))})
	}
	plddtPath := filepath.Join(pred, fmt.Sprintf("plddt_%s_model_0.npz", stem))
	arrays, err := npy.ReadNPZ(plddtPath)
	if err != nil {
		return nil, fmt.Errorf("boltz2: %w", err)
	}
	pl, ok := arrays["plddt"]
	if !ok || len(pl.Shape) != 1 || pl.Len() == 0 {
		return nil, fmt.Errorf("boltz2: %s has no 1-D plddt array", plddtPath)
	}
	sum := 0.0
	for _, v := range pl.Float64s() {
		d.PLDDT = append(d.PLDDT, math.Round(v*1e4)/1e4)
		sum += v
	}
	d.PLDDTMean = sum / float64(pl.Len())
	if math.Abs(d.PLDDTMean-best.ComplexPLDDT) > 0.05 {
		d.Warnings = append(d.Warnings, fmt.Sprintf("mean pLDDT %.3f differs from complex_plddt %.3f", d.PLDDTMean, best.ComplexPLDDT))
	}
	if want := len(pt.seq) + pt.ligand.HeavyAtoms; pl.Len() != want {
		d.Warnings = append(d.Warnings, fmt.Sprintf("pLDDT has %d tokens, expected %d (%d residues + %d ligand atoms)", pl.Len(), want, len(pt.seq), pt.ligand.HeavyAtoms))
	}
	// Files: the best structure as structure.cif, the rest under boltz's names.
	if err := keep("structure.cif", filepath.Join(pred, stem+"_model_0.cif")); err != nil {
		return nil, err
	}
	if err := keep("affinity_"+stem+".json", affPath); err != nil {
		return nil, err
	}
	for k := range d.Models {
		for _, name := range []string{
			fmt.Sprintf("confidence_%s_model_%d.json", stem, k),
			fmt.Sprintf("plddt_%s_model_%d.npz", stem, k),
			fmt.Sprintf("pae_%s_model_%d.npz", stem, k),
			fmt.Sprintf("pde_%s_model_%d.npz", stem, k),
		} {
			if _, err := os.Stat(filepath.Join(pred, name)); err != nil {
				continue
			}
			if err := keep(name, filepath.Join(pred, name)); err != nil {
				return nil, err
			}
		}
		if k > 0 {
			name := fmt.Sprintf("%s_model_%d.cif", stem, k)
			if err := keep(name, filepath.Join(pred, name)); err != nil {
				return nil, err
			}
		}
	}
	return &gpu.Output{Metrics: Metrics(best, aff), Details: d, Files: files}, nil
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}
