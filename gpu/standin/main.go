// Command standin is a test-only stand-in for the GPU model programs that
// cannot run on a development machine: it plays `boltz`, `chai-lab`,
// `rfdiffusion`, `proteinmpnn` and `rf2`, chosen by the name it is run
// under (os.Args[0], a symlink made by the tests).
//
// It is built only by tests (see gpu/standin/standintest) with
// `go build -ldflags "-X main.testdata=<abs path>"`; no command of this
// module imports or installs it, so it is never reachable from `omtx serve`
// or `omtx worker`.
//
// Each role checks the command line it is given the way the real program's
// parser would (unknown flags, missing values, non-numeric numbers, missing
// inputs, a non-empty chai-lab output folder) and exits with status 2 and a
// message on the first problem. On success it writes REAL output files,
// copied from the module's testdata (Boltz-2's CDK2 run, RFantibody's
// reference outputs) or from files the test prepared next to the
// executable (Chai-1 score archives, of which no real copy is bundled),
// renamed to the input stems and laid out the way the real program lays
// them out. Every run appends its argument list, one JSON array per line,
// to "<os.Args[0]>.calls" so tests can count and inspect invocations.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// testdata is the absolute path of the module's testdata folder, set at
// build time.
var testdata string

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if err := record(os.Args[0], args); err != nil {
		fail(name, err)
	}
	var err error
	switch name {
	case "boltz":
		err = boltz(args)
	case "chai-lab":
		err = chai(args)
	case "rfdiffusion":
		err = rfdiffusion(args)
	case "proteinmpnn":
		err = proteinmpnn(args)
	case "rf2":
		err = rf2(args)
	default:
		err = fmt.Errorf("unknown role %q (run as boltz, chai-lab, rfdiffusion, proteinmpnn or rf2)", name)
	}
	if err != nil {
		fail(name, err)
	}
}

func fail(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s (stand-in): error: %v\n", name, err)
	os.Exit(2)
}

func record(argv0 string, args []string) error {
	f, err := os.OpenFile(argv0+".calls", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	b, _ := json.Marshal(args)
	_, err = fmt.Fprintf(f, "%s\n", b)
	return err
}

// flagKind says whether a flag takes a value and of what kind.
type flagKind int

const (
	boolFlag flagKind = iota
	intFlag
	stringFlag
)

// parseFlags splits args into flags (checked against known) and
// positional arguments. It accepts "--flag value" and "--flag=value".
func parseFlags(args []string, known map[string]flagKind) (map[string]string, []string, error) {
	flags := map[string]string{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		kind, ok := known[name]
		if !ok {
			return nil, nil, fmt.Errorf("no such option: %s", name)
		}
		if _, dup := flags[name]; dup {
			return nil, nil, fmt.Errorf("option %s given twice", name)
		}
		if kind == boolFlag {
			if hasValue {
				return nil, nil, fmt.Errorf("option %s does not take a value", name)
			}
			flags[name] = "true"
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("option %s requires an argument", name)
			}
			i++
			value = args[i]
		}
		if kind == intFlag {
			if _, err := strconv.Atoi(value); err != nil {
				return nil, nil, fmt.Errorf("invalid value for %s: %q is not a valid integer", name, value)
			}
		}
		flags[name] = value
	}
	return flags, pos, nil
}

func intFlagValue(flags map[string]string, name string, def int) int {
	if v, ok := flags[name]; ok {
		n, _ := strconv.Atoi(v)
		return n
	}
	return def
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// exeDir is the folder the stand-in was run from (the folder of the link
// a test made, not of the shared binary), where tests put extra fixtures.
func exeDir() string {
	return filepath.Dir(os.Args[0])
}

// holdWhile keeps the process alive, its outputs written, while the file
// at path exists (at most a minute), so a test can see results reported
// before the engine exits.
func holdWhile(path string) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustExist(flag, path string) error {
	if path == "" {
		return fmt.Errorf("missing %s", flag)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: path %q does not exist", flag, path)
	}
	return nil
}
