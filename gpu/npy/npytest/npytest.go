// Package npytest writes NumPy .npy and .npz files for tests: fixtures
// such as Chai-1's scores.model_idx_<i>.npz, of which no real copy is
// bundled. It writes format version 1.0 headers as numpy.save does.
package npytest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
)

// Array is one array to write: a NumPy dtype string ("<f4", "<i8", "|b1"),
// a shape (empty for a scalar) and the little-endian element bytes.
type Array struct {
	Name  string
	Descr string
	Shape []int
	Data  []byte
}

// Float32s encodes values as "<f4" data.
func Float32s(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// Int64s encodes values as "<i8" data.
func Int64s(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

// Bools encodes values as "|b1" data.
func Bools(v ...bool) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		if x {
			b[i] = 1
		}
	}
	return b
}

// NPY encodes one array as a version 1.0 .npy file.
func NPY(a Array) []byte {
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := "(" + strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	shape += ")"
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", a.Descr, shape)
	// Pad with spaces so that the data starts on a 64-byte boundary, the
	// header ending in a newline.
	total := 10 + len(h) + 1
	pad := (64 - total%64) % 64
	h += strings.Repeat(" ", pad) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
	buf.WriteString(h)
	buf.Write(a.Data)
	return buf.Bytes()
}

// WriteNPZ writes arrays into an uncompressed .npz at path, each as
// "<Name>.npy", as numpy.savez does.
func WriteNPZ(path string, arrays ...Array) error {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, a := range arrays {
		w, err := z.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := w.Write(NPY(a)); err != nil {
			return err
		}
	}
	if err := z.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
