// Package standintest builds the gpu/standin program for adapter tests and
// reads back the command lines it was run with.
package standintest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	dir  string // set by Main: where the one shared binary goes
	exe  string
	err  error
}

// Main runs a package's tests with one stand-in binary shared by all of
// them, removed afterwards. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(standintest.Main(m)) }
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "standin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	return code
}

// Build returns a fresh folder holding links to the stand-in under each of
// names ("boltz", "chai-lab", ...). Each folder has its own call log and
// its own extra fixtures. Without Main, the binary is built per call.
func Build(t testing.TB, names ...string) string {
	t.Helper()
	var exe string
	if shared.dir != "" {
		shared.once.Do(func() {
			shared.exe = filepath.Join(shared.dir, "standin")
			shared.err = build(shared.exe)
		})
		if shared.err != nil {
			t.Fatal(shared.err)
		}
		exe = shared.exe
	} else {
		exe = filepath.Join(t.TempDir(), "standin")
		if err := build(exe); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(exe, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build compiles the stand-in to exe with the module's testdata path.
func build(exe string) error {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return fmt.Errorf("standintest: cannot locate the source folder")
	}
	testdata, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata"))
	if err != nil {
		return err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", exe, "-ldflags", "-X main.testdata="+testdata, "omtx/gpu/standin")
	cmd.Dir = filepath.Dir(file)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build stand-in: %v\n%s", err, out)
	}
	return nil
}

// Calls returns the argument lists the stand-in was run with under path,
// in order.
func Calls(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path + ".calls")
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var args []string
		if err := json.Unmarshal(sc.Bytes(), &args); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, args)
	}
	return calls
}
