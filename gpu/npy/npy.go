// Package npy reads NumPy arrays: .npy files (format versions 1, 2 and 3)
// and .npz archives (a zip of .npy members, compressed or stored), as the
// GPU models write their per-residue confidences (Boltz-2's plddt_*.npz and
// pae_*.npz, Chai-1's scores.model_idx_*.npz).
//
// Only what those files use is supported: little-endian (or byte-sized)
// booleans, integers and floats in C order. Anything else is an error, never
// a guess.
package npy

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// magic opens every .npy file.
const magic = "\x93NUMPY"

// maxHeader bounds the header length we accept (NumPy itself caps it).
const maxHeader = 1 << 20

// maxData bounds an array's data, in bytes (a 2,000-token PAE matrix of
// float32 is 16 MB).
const maxData = 1 << 30

// Array is one decoded array: its type, shape and raw little-endian data.
type Array struct {
	// Descr is the NumPy type string as written, e.g. "<f4", "|b1", "<i8".
	Descr string
	// Shape is the array's shape; empty for a scalar (one element).
	Shape []int
	kind  byte // 'f', 'i', 'u' or 'b'
	size  int  // bytes per element
	data  []byte
}

// Len returns the number of elements (the product of Shape).
func (a *Array) Len() int { return numElements(a.Shape) }

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Float64s returns every element, in C order, as float64. Booleans become 0
// and 1; integers are converted exactly up to 2^53.
func (a *Array) Float64s() []float64 {
	n := a.Len()
	out := make([]float64, n)
	for i := range n {
		b := a.data[i*a.size : (i+1)*a.size]
		switch a.kind {
		case 'f':
			if a.size == 4 {
				out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			} else {
				out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			}
		case 'b':
			if b[0] != 0 {
				out[i] = 1
			}
		case 'i':
			out[i] = float64(signed(b))
		case 'u':
			out[i] = float64(unsigned(b))
		}
	}
	return out
}

// Float64 returns the single element of a one-element array (a scalar or a
// shape such as (1,) or (1, 1)).
func (a *Array) Float64() (float64, error) {
	if a.Len() != 1 {
		return 0, fmt.Errorf("npy: want one element, array has shape %v", a.Shape)
	}
	return a.Float64s()[0], nil
}

func unsigned(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

func signed(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	default:
		return int64(binary.LittleEndian.Uint64(b))
	}
}

// Read decodes one .npy stream.
func Read(r io.Reader) (*Array, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil, fmt.Errorf("npy: read preamble: %w", err)
	}
	if string(pre[:6]) != magic {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		b := make([]byte, 2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("npy: read header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b))
	case 2, 3:
		b := make([]byte, 4)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("npy: read header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b))
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > maxHeader {
		return nil, fmt.Errorf("npy: header of %d bytes is too long", hlen)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("npy: read header: %w", err)
	}
	a, err := parseHeader(string(header))
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range a.Shape {
		if d != 0 && n > maxData/a.size/d {
			return nil, fmt.Errorf("npy: shape %v is larger than %d bytes", a.Shape, maxData)
		}
		n *= d
	}
	a.data = make([]byte, n*a.size)
	if _, err := io.ReadFull(r, a.data); err != nil {
		return nil, fmt.Errorf("npy: read %d elements of %s: %w", n, a.Descr, err)
	}
	return a, nil
}

// parseHeader reads the Python dict literal of a .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (328,), }
func parseHeader(h string) (*Array, error) {
	h = strings.TrimSpace(h)
	descr, ok := dictValue(h, "descr")
	if !ok {
		return nil, fmt.Errorf("npy: header has no 'descr': %q", h)
	}
	descr = strings.Trim(descr, `'"`)
	fortran, ok := dictValue(h, "fortran_order")
	if !ok {
		return nil, fmt.Errorf("npy: header has no 'fortran_order': %q", h)
	}
	shapeText, ok := dictValue(h, "shape")
	if !ok {
		return nil, fmt.Errorf("npy: header has no 'shape': %q", h)
	}
	shape, err := parseShape(shapeText)
	if err != nil {
		return nil, err
	}
	if fortran == "True" && len(shape) > 1 {
		return nil, errors.New("npy: Fortran-order arrays are not supported")
	}
	a := &Array{Descr: descr, Shape: shape}
	if len(descr) < 3 {
		return nil, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	order, kind := descr[0], descr[1]
	size, err := strconv.Atoi(descr[2:])
	if err != nil {
		return nil, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	if order == '>' && size > 1 {
		return nil, fmt.Errorf("npy: big-endian dtype %q is not supported", descr)
	}
	if order != '<' && order != '|' && order != '=' && order != '>' {
		return nil, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	switch {
	case kind == 'f' && (size == 4 || size == 8),
		(kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8),
		kind == 'b' && size == 1:
	default:
		return nil, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	a.kind, a.size = kind, size
	return a, nil
}

// dictValue returns the text of key's value in a flat Python dict literal.
func dictValue(h, key string) (string, bool) {
	i := strings.Index(h, "'"+key+"'")
	if i < 0 {
		return "", false
	}
	rest := strings.TrimSpace(h[i+len(key)+2:])
	rest, ok := strings.CutPrefix(rest, ":")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") {
		end := strings.Index(rest, ")")
		if end < 0 {
			return "", false
		}
		return rest[:end+1], true
	}
	if strings.HasPrefix(rest, "'") {
		end := strings.Index(rest[1:], "'")
		if end < 0 {
			return "", false
		}
		return rest[:end+2], true
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		return "", false
	}
	return strings.TrimSpace(rest[:end]), true
}

func parseShape(s string) ([]int, error) {
	inner := strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	shape := []int{}
	for _, part := range strings.Split(inner, ",") {
		part = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), "L"))
		if part == "" {
			continue
		}
		d, err := strconv.Atoi(part)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad shape %s", s)
		}
		shape = append(shape, d)
	}
	return shape, nil
}

// ReadFile reads one .npy file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ReadNPZ reads every array of a .npz archive, keyed by its name without
// the ".npy" suffix (the key np.load gives).
func ReadNPZ(path string) (map[string]*Array, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npz %s: %w", path, err)
	}
	defer z.Close()
	out := map[string]*Array{}
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npz %s: %s: %w", path, f.Name, err)
		}
		a, err := Read(rc)
		if err == nil {
			// Reach the end so the zip reader checks the CRC.
			var extra int64
			extra, err = io.Copy(io.Discard, rc)
			if err == nil && extra > 0 {
				err = fmt.Errorf("%d bytes after the array", extra)
			}
		}
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("npz %s: %s: %w", path, f.Name, err)
		}
		out[name] = a
	}
	return out, nil
}
