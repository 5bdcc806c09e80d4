package vina

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CIFWriter writes CIF data: blocks, single items and loops, quoting
// values as the CIF 1.1 syntax needs. The first write error sticks and is
// returned by Flush.
type CIFWriter struct {
	w   *bufio.Writer
	err error
}

// NewCIFWriter returns a writer to w; call Flush at the end.
func NewCIFWriter(w io.Writer) *CIFWriter { return &CIFWriter{w: bufio.NewWriter(w)} }

func (c *CIFWriter) printf(format string, args ...any) {
	if c.err == nil {
		_, c.err = fmt.Fprintf(c.w, format, args...)
	}
}

// Block starts a data block ("data_NAME").
func (c *CIFWriter) Block(name string) { c.printf("data_%s\n#\n", cifBlockName(name)) }

// Item writes one name-value pair ("_entry.id 1IEP").
func (c *CIFWriter) Item(name, value string) { c.printf("%s %s\n#\n", name, CIFValue(value)) }

// Loop writes a loop of category with the given columns; each row must have
// one value per column.
func (c *CIFWriter) Loop(category string, columns []string, rows [][]string) {
	if c.err != nil {
		return
	}
	c.printf("loop_\n")
	for _, col := range columns {
		c.printf("_%s.%s\n", category, col)
	}
	for i, r := range rows {
		if len(r) != len(columns) {
			c.err = fmt.Errorf("cif: %s row %d has %d values for %d columns", category, i+1, len(r), len(columns))
			return
		}
		for j, v := range r {
			if j > 0 {
				c.printf(" ")
			}
			c.printf("%s", CIFValue(v))
		}
		c.printf("\n")
	}
	c.printf("#\n")
}

// Flush writes buffered data and returns the first error.
func (c *CIFWriter) Flush() error {
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// CIFValue quotes v for CIF when it needs it: empty values become "?"
// (unknown); values with blanks, or starting with a character CIF gives a
// meaning to, are quoted.
func CIFValue(v string) string {
	if v == "" {
		return "?"
	}
	if v == "." || v == "?" {
		return v
	}
	plain := !strings.ContainsAny(v, " \t\n") && !strings.ContainsAny(v[:1], "_#$;[]'\"")
	lower := strings.ToLower(v)
	for _, kw := range []string{"data_", "save_", "loop_", "global_", "stop_"} {
		if strings.HasPrefix(lower, kw) {
			plain = false
		}
	}
	if plain {
		return v
	}
	if !strings.Contains(v, "'") && !strings.Contains(v, "\n") {
		return "'" + v + "'"
	}
	if !strings.Contains(v, "\"") && !strings.Contains(v, "\n") {
		return "\"" + v + "\""
	}
	return "\n;" + v + "\n;\n"
}

func cifBlockName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "structure"
	}
	return s
}

// LigandAtom is an atom of a docked ligand pose.
type LigandAtom struct {
	Element string
	X, Y, Z float64
	Charge  int
}

// atomSiteColumns are the _atom_site items written by WriteComplex.
var atomSiteColumns = []string{
	"group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id",
	"label_asym_id", "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z",
	"occupancy", "B_iso_or_equiv", "pdbx_formal_charge", "auth_seq_id", "auth_comp_id",
	"auth_asym_id", "auth_atom_id", "pdbx_PDB_model_num",
}

// LigandCompID is the residue name of the docked ligand in structure.cif.
const LigandCompID = "LIG"

// WriteComplex writes the receptor atoms and a ligand pose as one mmCIF
// block: one polymer entity per receptor chain, metal ions as non-polymer
// entities, and the ligand as a non-polymer entity (comp_id LIG) with a
// chain of its own. The ligand's atoms are named by element and index
// (C1, N2, ...).
func WriteComplex(w io.Writer, entryID, ligandName string, rec []PDBAtom, lig []LigandAtom) error {
	type asym struct{ id, entity, chain string }
	var entities [][]string // id, type, description
	var asyms []asym
	used := map[string]bool{}
	entityOf := map[string]string{} // "P:chain" or "H:chain:resname" -> entity
	asymOf := map[string]string{}   // same key -> asym
	newEntity := func(typ, desc string) string {
		id := strconv.Itoa(len(entities) + 1)
		entities = append(entities, []string{id, typ, desc})
		return id
	}
	for _, a := range rec {
		used[a.Chain] = true
	}
	nextChain := func() string {
		for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" {
			if !used[string(c)] {
				used[string(c)] = true
				return string(c)
			}
		}
		return "LIG"
	}
	rows := make([][]string, 0, len(rec)+len(lig))
	f3 := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	seq := map[string]int{}
	lastRes := map[string]string{}
	for i, a := range rec {
		chain := a.Chain
		if chain == "" {
			chain = "A"
		}
		key := "P:" + chain
		if a.Het {
			key = "H:" + chain + ":" + a.ResName
		}
		if _, ok := entityOf[key]; !ok {
			if a.Het {
				entityOf[key] = newEntity("non-polymer", a.ResName)
				asymOf[key] = nextChain()
			} else {
				entityOf[key] = newEntity("polymer", "receptor chain "+chain)
				asymOf[key] = chain
			}
			asyms = append(asyms, asym{asymOf[key], entityOf[key], chain})
		}
		group, seqID := "ATOM", "."
		if a.Het {
			group = "HETATM"
		} else {
			res := fmt.Sprintf("%d%s", a.ResSeq, a.ICode)
			if lastRes[chain] != res {
				seq[chain]++
				lastRes[chain] = res
			}
			seqID = strconv.Itoa(seq[chain])
		}
		rows = append(rows, []string{
			group, strconv.Itoa(i + 1), a.Element, a.Name, ".", a.ResName,
			asymOf[key], entityOf[key], seqID, orDot(a.ICode), f3(a.X), f3(a.Y), f3(a.Z),
			f2(a.Occupancy), f2(a.BFactor), strconv.Itoa(a.Charge), strconv.Itoa(a.ResSeq), a.ResName,
			chain, a.Name, "1",
		})
	}
	if len(lig) > 0 {
		ent := newEntity("non-polymer", ligandName)
		chain := nextChain()
		asyms = append(asyms, asym{chain, ent, chain})
		count := map[string]int{}
		for _, a := range lig {
			count[a.Element]++
			name := fmt.Sprintf("%s%d", strings.ToUpper(a.Element), count[a.Element])
			rows = append(rows, []string{
				"HETATM", strconv.Itoa(len(rows) + 1), a.Element, name, ".", LigandCompID,
				chain, ent, ".", ".", f3(a.X), f3(a.Y), f3(a.Z),
				"1.00", "0.00", strconv.Itoa(a.Charge), "1", LigandCompID, chain, name, "1",
			})
		}
	}
	c := NewCIFWriter(w)
	c.Block(entryID)
	c.Item("_entry.id", entryID)
	c.Loop("entity", []string{"id", "type", "pdbx_description"}, entities)
	var asymRows [][]string
	for _, a := range asyms {
		asymRows = append(asymRows, []string{a.id, a.entity})
	}
	c.Loop("struct_asym", []string{"id", "entity_id"}, asymRows)
	c.Loop("atom_site", atomSiteColumns, rows)
	return c.Flush()
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}
