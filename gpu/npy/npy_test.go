package npy_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"omtx/gpu/npy"
	"omtx/gpu/npy/npytest"
)

const cdk2 = "../../testdata/boltz/output_boltz2_cdk2/"

func TestReadNPZBoltzFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, key string
		shape     []int
		first     float64
		mean      float64
	}{
		// Values checked with numpy 1.24 (np.load(...)[key].mean()).
		{cdk2 + "plddt_1ckp_cdk2_model_0.npz", "plddt", []int{328}, 0.7932137, 0.95426756},
		{cdk2 + "pae_1ckp_cdk2_model_0.npz", "pae", []int{328, 328}, 0.25009933, 3.2909248},
		{"../../testdata/boltz/output_boltz_pdl1_binder/plddt_pdl1_binder_model_0.npz", "plddt", []int{209}, math.NaN(), 0.9521237},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			arrays, err := npy.ReadNPZ(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			a, ok := arrays[tc.key]
			if !ok || len(arrays) != 1 {
				t.Fatalf("keys = %v, want only %q", keys(arrays), tc.key)
			}
			if a.Descr != "<f4" || !equalInts(a.Shape, tc.shape) {
				t.Fatalf("dtype %s shape %v, want <f4 %v", a.Descr, a.Shape, tc.shape)
			}
			v := a.Float64s()
			if !math.IsNaN(tc.first) && math.Abs(v[0]-tc.first) > 1e-6 {
				t.Errorf("first = %v, want %v", v[0], tc.first)
			}
			sum := 0.0
			for _, x := range v {
				sum += x
			}
			if mean := sum / float64(len(v)); math.Abs(mean-tc.mean) > 1e-5 {
				t.Errorf("mean = %v, want %v", mean, tc.mean)
			}
		})
	}
}

func TestReadHeaderVersionsAndTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		descr string
		shape []int
		data  []byte
		want  []float64
	}{
		{"f8 2x2", "<f8", []int{2, 2}, f64s(1.5, -2, 3, 4.25), []float64{1.5, -2, 3, 4.25}},
		{"i8", "<i8", []int{3}, npytest.Int64s(-7, 0, 9), []float64{-7, 0, 9}},
		{"bool", "|b1", []int{1}, npytest.Bools(true), []float64{1}},
		{"i4", "<i4", []int{2}, []byte{0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0}, []float64{-1, 2}},
		{"u1", "|u1", []int{2}, []byte{200, 3}, []float64{200, 3}},
		{"scalar f4", "<f4", nil, npytest.Float32s(0.5), []float64{0.5}},
	}
	for _, tc := range tests {
		for _, version := range []byte{1, 2, 3} {
			t.Run(tc.name, func(t *testing.T) {
				b := npytest.NPY(npytest.Array{Descr: tc.descr, Shape: tc.shape, Data: tc.data})
				if version > 1 {
					b = toV2(b, version)
				}
				a, err := npy.Read(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				got := a.Float64s()
				if len(got) != len(tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("got %v, want %v", got, tc.want)
					}
				}
			})
		}
	}
}

func TestReadRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		want         string
	}{
		{"big endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "big-endian"},
		{"fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "Fortran"},
		{"object", "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "unsupported dtype"},
		{"complex", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "unsupported dtype"},
		{"no shape", "{'descr': '<f4', 'fortran_order': False}", "no 'shape'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			buf.WriteString("\x93NUMPY\x01\x00")
			binary.Write(&buf, binary.LittleEndian, uint16(len(tc.header)))
			buf.WriteString(tc.header)
			buf.Write(make([]byte, 16))
			_, err := npy.Read(&buf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := npy.Read(strings.NewReader("PK\x03\x04not npy")); err == nil {
		t.Error("accepted a file without the magic")
	}
	// Truncated data.
	b := npytest.NPY(npytest.Array{Descr: "<f4", Shape: []int{4}, Data: npytest.Float32s(1, 2, 3, 4)})
	if _, err := npy.Read(bytes.NewReader(b[:len(b)-3])); err == nil {
		t.Error("accepted truncated data")
	}
}

// TestWriterMatchesNumPy checks the test writer against NumPy itself, when
// a Python with NumPy is installed (/usr/bin/python3 here).
func TestWriterMatchesNumPy(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skip("no NumPy for /usr/bin/python3")
	}
	path := filepath.Join(t.TempDir(), "scores.npz")
	err := npytest.WriteNPZ(path,
		npytest.Array{Name: "aggregate_score", Descr: "<f4", Shape: []int{1}, Data: npytest.Float32s(0.25)},
		npytest.Array{Name: "chain_chain_clashes", Descr: "<i8", Shape: []int{1, 2, 2}, Data: npytest.Int64s(0, 3, 3, 0)},
		npytest.Array{Name: "has_inter_chain_clashes", Descr: "|b1", Shape: []int{1}, Data: npytest.Bools(false)},
	)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import numpy as np, sys
z = np.load(sys.argv[1])
print(z["aggregate_score"].dtype, z["aggregate_score"].tolist(), z["chain_chain_clashes"].shape, z["chain_chain_clashes"].sum(), z["has_inter_chain_clashes"].dtype)`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "float32 [0.25] (1, 2, 2) 6 bool"; got != want {
		t.Errorf("numpy reads %q, want %q", got, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func toV2(b []byte, version byte) []byte {
	hlen := int(binary.LittleEndian.Uint16(b[8:10]))
	var out bytes.Buffer
	out.WriteString("\x93NUMPY")
	out.WriteByte(version)
	out.WriteByte(0)
	binary.Write(&out, binary.LittleEndian, uint32(hlen))
	out.Write(b[10:])
	return out.Bytes()
}

func f64s(v ...float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func keys(m map[string]*npy.Array) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestReadRejectsHugeShapes(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{"(1099511627776,)", "(4294967296, 4294967296)", "(65536, 65536, 65536)"} {
		h := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }"
		var buf bytes.Buffer
		buf.WriteString("\x93NUMPY\x01\x00")
		binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
		buf.WriteString(h)
		if _, err := npy.Read(&buf); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("shape %s: err = %v", shape, err)
		}
	}
}
