package views

import (
	"math"
	"strconv"
	"strings"
)

// Picture sizes, in SVG user units.
const (
	pictureWidth  = 280
	pictureHeight = 200
	pictureMargin = 8
)

// TargetPicture is a docking target drawn as its Cα trace, seen along
// the axis of least spread (its two principal axes in the picture), with
// the residues inside the docking box highlighted and the box drawn as a
// wireframe in the same projection.
type TargetPicture struct {
	// Trace and Pocket are polylines ("x,y x,y ..."): the whole trace,
	// and the runs of residues whose Cα lies inside the box.
	Trace  []string
	Pocket []string
	// Box is the box's 12 edges as line segments.
	Box [][4]float64
	// PocketResidues counts the residues inside the box.
	PocketResidues int
	Residues       int
}

// Width and Height are the picture's size.
func (TargetPicture) Width() string  { return strconv.Itoa(pictureWidth) }
func (TargetPicture) Height() string { return strconv.Itoa(pictureHeight) }

// ViewBox is the SVG viewBox.
func (p TargetPicture) ViewBox() string { return "0 0 " + p.Width() + " " + p.Height() }

// Coord formats a coordinate for an SVG attribute.
func Coord(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// NewTargetPicture projects a trace (runs of Cα positions, Å) and a box
// (center and size, Å) onto the trace's two principal axes and scales
// both to fit the picture. It returns nil for an empty trace.
func NewTargetPicture(segments [][][3]float64, center, size [3]float64) *TargetPicture {
	var pts [][3]float64
	for _, s := range segments {
		pts = append(pts, s...)
	}
	if len(pts) == 0 {
		return nil
	}
	mean, u, v := principalAxes(pts)
	proj := func(p [3]float64) [2]float64 {
		d := [3]float64{p[0] - mean[0], p[1] - mean[1], p[2] - mean[2]}
		return [2]float64{dot(d, u), dot(d, v)}
	}
	corners := boxCorners(center, size)
	// The frame holds the trace and the box.
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range append(append([][3]float64(nil), pts...), corners[:]...) {
		q := proj(p)
		minX, maxX = math.Min(minX, q[0]), math.Max(maxX, q[0])
		minY, maxY = math.Min(minY, q[1]), math.Max(maxY, q[1])
	}
	scale := math.Min((pictureWidth-2*pictureMargin)/math.Max(maxX-minX, 1), (pictureHeight-2*pictureMargin)/math.Max(maxY-minY, 1))
	offX := (pictureWidth - scale*(maxX-minX)) / 2
	offY := (pictureHeight - scale*(maxY-minY)) / 2
	screen := func(p [3]float64) [2]float64 {
		q := proj(p)
		// SVG's y grows downwards.
		return [2]float64{offX + scale*(q[0]-minX), pictureHeight - offY - scale*(q[1]-minY)}
	}
	pic := &TargetPicture{Residues: len(pts)}
	inBox := func(p [3]float64) bool {
		for i := range 3 {
			if math.Abs(p[i]-center[i]) > size[i]/2 {
				return false
			}
		}
		return true
	}
	for _, s := range segments {
		var all, pocket []string
		for _, p := range s {
			q := screen(p)
			xy := Coord(q[0]) + "," + Coord(q[1])
			all = append(all, xy)
			if inBox(p) {
				pic.PocketResidues++
				pocket = append(pocket, xy)
				continue
			}
			if len(pocket) > 0 {
				pic.Pocket = append(pic.Pocket, strings.Join(pocket, " "))
				pocket = nil
			}
		}
		if len(pocket) > 0 {
			pic.Pocket = append(pic.Pocket, strings.Join(pocket, " "))
		}
		pic.Trace = append(pic.Trace, strings.Join(all, " "))
	}
	for _, e := range boxEdges {
		a, b := screen(corners[e[0]]), screen(corners[e[1]])
		pic.Box = append(pic.Box, [4]float64{a[0], a[1], b[0], b[1]})
	}
	return pic
}

// boxCorners are a box's 8 corners; corner i has the high side on axis k
// when bit k of i is set.
func boxCorners(center, size [3]float64) [8][3]float64 {
	var c [8][3]float64
	for i := range 8 {
		for k := range 3 {
			sign := -0.5
			if i&(1<<k) != 0 {
				sign = 0.5
			}
			c[i][k] = center[k] + sign*size[k]
		}
	}
	return c
}

// boxEdges join corners that differ on one axis.
var boxEdges = [12][2]int{
	{0, 1}, {2, 3}, {4, 5}, {6, 7}, // x
	{0, 2}, {1, 3}, {4, 6}, {5, 7}, // y
	{0, 4}, {1, 5}, {2, 6}, {3, 7}, // z
}

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// principalAxes returns the points' centroid and the unit eigenvectors
// of their covariance with the largest and second largest eigenvalues
// (cyclic Jacobi rotations on the symmetric 3x3 matrix).
func principalAxes(pts [][3]float64) (mean, first, second [3]float64) {
	for _, p := range pts {
		for k := range 3 {
			mean[k] += p[k] / float64(len(pts))
		}
	}
	var a [3][3]float64
	for _, p := range pts {
		for i := range 3 {
			for j := range 3 {
				a[i][j] += (p[i] - mean[i]) * (p[j] - mean[j])
			}
		}
	}
	vec := [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}} // columns are eigenvectors
	for sweep := 0; sweep < 50; sweep++ {
		off := a[0][1]*a[0][1] + a[0][2]*a[0][2] + a[1][2]*a[1][2]
		if off < 1e-18 {
			break
		}
		for _, pq := range [3][2]int{{0, 1}, {0, 2}, {1, 2}} {
			p, q := pq[0], pq[1]
			if math.Abs(a[p][q]) < 1e-300 {
				continue
			}
			theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
			t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
			c := 1 / math.Sqrt(t*t+1)
			s := t * c
			for k := range 3 { // a = Jᵀ a J
				akp, akq := a[k][p], a[k][q]
				a[k][p], a[k][q] = c*akp-s*akq, s*akp+c*akq
			}
			for k := range 3 {
				apk, aqk := a[p][k], a[q][k]
				a[p][k], a[q][k] = c*apk-s*aqk, s*apk+c*aqk
			}
			for k := range 3 {
				vkp, vkq := vec[k][p], vec[k][q]
				vec[k][p], vec[k][q] = c*vkp-s*vkq, s*vkp+c*vkq
			}
		}
	}
	order := []int{0, 1, 2}
	for i := range order {
		for j := i + 1; j < len(order); j++ {
			if a[order[j]][order[j]] > a[order[i]][order[i]] {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	for k := range 3 {
		first[k], second[k] = vec[k][order[0]], vec[k][order[1]]
	}
	return mean, first, second
}
