package chai1

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"omtx/gpu"
	"omtx/gpu/npy"
)

// Sample is one diffusion sample's scores, from scores.model_idx_<i>.npz
// (the arrays of chai_lab.ranking.rank.get_scores, batch dimension of 1).
type Sample struct {
	// Index is the sample index i of the file names; it is not a rank.
	Index int `json:"sample_index"`
	// Rank is 0 for the best aggregate score.
	Rank                 int         `json:"rank"`
	AggregateScore       float64     `json:"aggregate_score"`
	PTM                  float64     `json:"ptm"`
	IPTM                 float64     `json:"iptm"`
	PerChainPTM          []float64   `json:"per_chain_ptm"`
	PerChainPairIPTM     [][]float64 `json:"per_chain_pair_iptm"`
	HasInterChainClashes bool        `json:"has_inter_chain_clashes"`
	ChainChainClashes    [][]float64 `json:"chain_chain_clashes"`
	CIF                  string      `json:"file"`
	scores               string
}

var scoresName = regexp.MustCompile(`^scores\.model_idx_(\d+)\.npz$`)

// ReadSamples reads every sample chai-lab wrote in dir, best first by
// aggregate_score (higher is better; ties keep sample order).
func ReadSamples(dir string) ([]Sample, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, e := range entries {
		mm := scoresName.FindStringSubmatch(e.Name())
		if mm == nil {
			continue
		}
		i, _ := strconv.Atoi(mm[1])
		s, err := readScores(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		s.Index, s.scores = i, filepath.Join(dir, e.Name())
		s.CIF = fmt.Sprintf("pred.model_idx_%d.cif", i)
		if _, err := os.Stat(filepath.Join(dir, s.CIF)); err != nil {
			return nil, fmt.Errorf("sample %d has scores but no structure: %w", i, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scores.model_idx_*.npz in %s", dir)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].AggregateScore != out[b].AggregateScore {
			return out[a].AggregateScore > out[b].AggregateScore
		}
		return out[a].Index < out[b].Index
	})
	for r := range out {
		out[r].Rank = r
	}
	return out, nil
}

func readScores(path string) (Sample, error) {
	arrays, err := npy.ReadNPZ(path)
	if err != nil {
		return Sample{}, err
	}
	var s Sample
	scalar := func(key string) (float64, error) {
		a, ok := arrays[key]
		if !ok {
			return 0, fmt.Errorf("%s: no %s", path, key)
		}
		v, err := a.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s: %s is %v", path, key, v)
		}
		return v, nil
	}
	if s.AggregateScore, err = scalar("aggregate_score"); err != nil {
		return s, err
	}
	if s.PTM, err = scalar("ptm"); err != nil {
		return s, err
	}
	if s.IPTM, err = scalar("iptm"); err != nil {
		return s, err
	}
	clash, err := scalar("has_inter_chain_clashes")
	if err != nil {
		return s, err
	}
	s.HasInterChainClashes = clash != 0
	pc, ok := arrays["per_chain_ptm"]
	if !ok {
		return s, fmt.Errorf("%s: no per_chain_ptm", path)
	}
	s.PerChainPTM = pc.Float64s()
	n := len(s.PerChainPTM)
	if s.PerChainPairIPTM, err = square(arrays, "per_chain_pair_iptm", n); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if s.ChainChainClashes, err = square(arrays, "chain_chain_clashes", n); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// square reads an n x n matrix (with any leading dimensions of 1).
func square(arrays map[string]*npy.Array, key string, n int) ([][]float64, error) {
	a, ok := arrays[key]
	if !ok {
		return nil, fmt.Errorf("no %s", key)
	}
	v := a.Float64s()
	if len(v) != n*n {
		return nil, fmt.Errorf("%s has shape %v, want %d x %d chains", key, a.Shape, n, n)
	}
	out := make([][]float64, n)
	for i := range n {
		out[i] = v[i*n : (i+1)*n]
	}
	return out, nil
}

// Details is what a Chai-1 job adds to its results.json.
type Details struct {
	Engine string `json:"engine"`
	MSA    string `json:"msa"`
	// Samples are all diffusion samples, best first; structure.cif is
	// Samples[0]'s structure.
	Samples  []Sample `json:"samples"`
	Ranking  string   `json:"ranking"`
	Warnings []string `json:"warnings,omitempty"`
}

func output(t gpu.Task, samples []Sample, msa string) (*gpu.Output, error) {
	best := samples[0]
	d := &Details{Engine: "chai-lab " + Version, MSA: msa, Samples: samples,
		Ranking: "by aggregate_score = 0.2 ptm + 0.8 iptm - 100 x has_inter_chain_clashes, higher is better; sample_index is chai-lab's file index, not a rank"}
	for _, s := range samples {
		clash := 0.0
		if s.HasInterChainClashes {
			clash = 1
		}
		if want := 0.2*s.PTM + 0.8*s.IPTM - 100*clash; math.Abs(want-s.AggregateScore) > 1e-3 {
			d.Warnings = append(d.Warnings, fmt.Sprintf("sample %d: aggregate_score %.4f differs from 0.2 ptm + 0.8 iptm - 100 x clashes = %.4f", s.Index, s.AggregateScore, want))
		}
	}
	if best.HasInterChainClashes {
		d.Warnings = append(d.Warnings, "every sample has clashing chains")
	}
	files := map[string]string{}
	keep := func(name, src string) error {
		dst := filepath.Join(t.Dir, name)
		if err := gpu.LinkOrCopy(src, dst); err != nil {
			return fmt.Errorf("chai1: keep %s: %w", name, err)
		}
		files[name] = dst
		return nil
	}
	out := filepath.Dir(best.scores)
	if err := keep("structure.cif", filepath.Join(out, best.CIF)); err != nil {
		return nil, err
	}
	for _, s := range samples {
		if err := keep(s.CIF, filepath.Join(out, s.CIF)); err != nil {
			return nil, err
		}
		if err := keep(filepath.Base(s.scores), s.scores); err != nil {
			return nil, err
		}
	}
	clash := 0.0
	if best.HasInterChainClashes {
		clash = 1
	}
	return &gpu.Output{
		Metrics: map[string]float64{MetricAggregate: best.AggregateScore, MetricPTM: best.PTM, MetricIPTM: best.IPTM, MetricClashes: clash},
		Details: d,
		Files:   files,
	}, nil
}
