package views

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestPrincipalAxes(t *testing.T) {
	// Points spread most along (1,1,0), then along z, least along (1,-1,0).
	var pts [][3]float64
	for i := -10; i <= 10; i++ {
		for _, z := range []float64{-3, 3} {
			for _, w := range []float64{-0.5, 0.5} {
				x := float64(i)
				pts = append(pts, [3]float64{x + w, x - w, z})
			}
		}
	}
	mean, u, v := principalAxes(pts)
	for k := range 3 {
		if math.Abs(mean[k]) > 1e-9 {
			t.Fatalf("mean %v", mean)
		}
	}
	if got := math.Abs(dot(u, [3]float64{1 / math.Sqrt2, 1 / math.Sqrt2, 0})); math.Abs(got-1) > 1e-6 {
		t.Errorf("first axis %v", u)
	}
	if got := math.Abs(dot(v, [3]float64{0, 0, 1})); math.Abs(got-1) > 1e-6 {
		t.Errorf("second axis %v", v)
	}
	if math.Abs(dot(u, v)) > 1e-9 || math.Abs(dot(u, u)-1) > 1e-9 {
		t.Errorf("axes not orthonormal: %v %v", u, v)
	}
}

func TestNewTargetPicture(t *testing.T) {
	if NewTargetPicture(nil, [3]float64{}, [3]float64{1, 1, 1}) != nil {
		t.Error("a picture of nothing")
	}
	// A helix-like trace of 40 residues; the box holds residues 10 to 19.
	var seg [][3]float64
	for i := range 40 {
		a := float64(i) * 100 * math.Pi / 180
		seg = append(seg, [3]float64{2.3 * math.Cos(a), 2.3 * math.Sin(a), 1.5 * float64(i)})
	}
	gap := [][3]float64{{30, 0, 0}, {33.8, 0, 0}}
	p := NewTargetPicture([][][3]float64{seg, gap}, [3]float64{0, 0, 21.75}, [3]float64{10, 10, 14})
	if p.Residues != 42 || p.PocketResidues != 10 {
		t.Errorf("%d residues, %d in the box", p.Residues, p.PocketResidues)
	}
	if len(p.Trace) != 2 || len(p.Pocket) != 1 || len(p.Box) != 12 {
		t.Fatalf("trace %d, pocket %d, box edges %d", len(p.Trace), len(p.Pocket), len(p.Box))
	}
	if n := len(strings.Fields(p.Pocket[0])); n != 10 {
		t.Errorf("pocket polyline of %d points", n)
	}
	// Everything lies inside the picture.
	var xs []float64
	for _, pl := range append(append([]string(nil), p.Trace...), p.Pocket...) {
		for _, xy := range strings.Fields(pl) {
			a, b, _ := strings.Cut(xy, ",")
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			xs = append(xs, x)
			if x < 0 || x > pictureWidth || y < 0 || y > pictureHeight {
				t.Fatalf("point %s outside the picture", xy)
			}
		}
	}
	for _, e := range p.Box {
		for i, c := range e {
			limit := float64(pictureWidth)
			if i%2 == 1 {
				limit = pictureHeight
			}
			if c < 0 || c > limit {
				t.Fatalf("box edge %v outside the picture", e)
			}
		}
	}
	if p.ViewBox() != "0 0 280 200" {
		t.Errorf("viewBox %q", p.ViewBox())
	}
	tg := Target{ID: "ABL1", Name: "ABL1 kinase domain", PDBID: "1IEP", Picture: p}
	if got := tg.PictureLabel(); !strings.Contains(got, "42 residues") || !strings.Contains(got, "10 residues inside the box") {
		t.Errorf("label %q", got)
	}
}
