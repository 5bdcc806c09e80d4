// Package firestoretest runs tests against the real Firestore emulator:
// Main starts it for a test binary (unless FIRESTORE_EMULATOR_HOST already
// names one) and stops it at the end; Require skips a test, or fails it in
// CI, when there is none; Project gives each test a project of its own, so
// that tests share one emulator without seeing each other's records.
//
// The emulator is the Google Cloud CLI's (Debian package
// google-cloud-cli-firestore-emulator, Java 17). Its launcher is a script
// that starts java without exec, so the emulator runs in a process group
// of its own under a small watchdog that kills the group when the test
// binary goes, even by SIGKILL: no emulator outlives its tests.
package firestoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvHost is the variable the Firestore client reads to use an emulator.
const EnvHost = "FIRESTORE_EMULATOR_HOST"

// EnvLauncher names the emulator's launcher when it is not where the
// Debian package puts it.
const EnvLauncher = "FIRESTORE_EMULATOR_LAUNCHER"

const defaultLauncher = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator"

// startTimeout bounds the emulator's start (a JVM: seconds, usually).
const startTimeout = 90 * time.Second

// skipReason is set by Main when there is no emulator to run against.
var skipReason string

// Launcher is the emulator's launcher: EnvLauncher, or where the Debian
// package installs it.
func Launcher() string {
	if l := os.Getenv(EnvLauncher); l != "" {
		return l
	}
	return defaultLauncher
}

// Main runs a package's tests against an emulator, starting one when
// FIRESTORE_EMULATOR_HOST is unset, and returns the exit code for os.Exit.
// Without an emulator the tests that call Require skip, except with
// CI=true, where Main fails.
func Main(m *testing.M) int {
	if os.Getenv(EnvHost) != "" {
		return m.Run()
	}
	launcher := Launcher()
	if _, err := os.Stat(launcher); err != nil {
		msg := fmt.Sprintf("no Firestore emulator: set %s, or install the Debian package google-cloud-cli-firestore-emulator "+
			"(or name its launcher in %s)", EnvHost, EnvLauncher)
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: "+msg+"; CI must run the Firestore tests")
			return 1
		}
		skipReason = msg
		return m.Run()
	}
	emu, err := Start(launcher)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer emu.Stop()
	os.Setenv(EnvHost, emu.Host)
	return m.Run()
}

// Require skips t when Main found no emulator.
func Require(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// Project returns a fresh project id for t ("demo-" projects never reach
// a real one).
func Project(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "demo-" + hex.EncodeToString(b[:])
}

// Emulator is a running Firestore emulator.
type Emulator struct {
	// Host is its host:port, for FIRESTORE_EMULATOR_HOST.
	Host string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// Start starts an emulator on a free loopback port and waits until it
// answers.
func Start(launcher string) (*Emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("firestore emulator: %w", err)
	}
	e := &Emulator{Host: "127.0.0.1:" + strconv.Itoa(port), out: &syncBuffer{}, done: make(chan struct{})}
	e.cmd = command(launcher, "start", "--host=127.0.0.1", "--port="+strconv.Itoa(port))
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("firestore emulator: start %s: %w", launcher, err)
	}
	go func() {
		e.cmd.Wait()
		close(e.done)
	}()
	if err := e.waitReady(); err != nil {
		e.Stop()
		return nil, fmt.Errorf("firestore emulator on %s: %w\n%s", e.Host, err, e.out.String())
	}
	return e, nil
}

// waitReady polls the emulator's HTTP root until it answers "Ok".
func (e *Emulator) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.HasPrefix(bytes.TrimSpace(body), []byte("Ok")) {
				return nil
			}
		}
		select {
		case <-e.done:
			return fmt.Errorf("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v", startTimeout)
		case <-tick.C:
		}
	}
}

// Stop ends the emulator's process group: politely, then not.
func (e *Emulator) Stop() {
	signalGroup(e.cmd, false)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		signalGroup(e.cmd, true)
		<-e.done
	}
	// The launcher may be gone while java lingers: make sure of the group.
	signalGroup(e.cmd, true)
}

// Wipe deletes every document of a project on the emulator.
func Wipe(ctx context.Context, host, project string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete,
		"http://"+host+"/emulator/v1/projects/"+project+"/databases/(default)/documents", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wipe %s: %s", project, resp.Status)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the emulator's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}

// Host returns an emulator for one test: FIRESTORE_EMULATOR_HOST when set,
// or one started for t and stopped when t ends. Without an emulator t is
// skipped, or fails with CI=true.
func Host(t testing.TB) string {
	t.Helper()
	if h := os.Getenv(EnvHost); h != "" {
		return h
	}
	launcher := Launcher()
	if _, err := os.Stat(launcher); err != nil {
		msg := fmt.Sprintf("no Firestore emulator (Debian package google-cloud-cli-firestore-emulator, or set %s)", EnvHost)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must run the Firestore tests")
		}
		t.Skip(msg)
	}
	emu, err := Start(launcher)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	return emu.Host
}
