// Package firebaseauthtest runs tests against the real Firebase Auth
// emulator. A test package's TestMain calls Main; a test that needs the
// emulator calls Need, which returns its host:port.
//
// When FIREBASE_AUTH_EMULATOR_HOST is set, that emulator is used.
// Otherwise the first Need starts one from the firebase CLI
// ($FIREBASE_CLI, else .cache/firebase-tools/node_modules/.bin/firebase
// in the module, which scripts/firebase-tools.sh installs, else firebase
// on PATH), on free ports in a temporary folder, and Main stops it (its
// whole process group) after the tests. Without a CLI the tests that need
// it skip, or fail when CI=true.
package firebaseauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Project is the emulator's project: the demo- prefix keeps the SDKs from
// ever looking for real credentials.
const Project = "demo-test"

// APIKey is what the emulator takes as a web API key.
const APIKey = "fake-api-key"

const emulatorEnv = "FIREBASE_AUTH_EMULATOR_HOST"

var (
	mu      sync.Mutex
	started *emulator
	host    string // set once the emulator answers
	failed  error  // why the emulator could not start
)

// Main runs the package's tests and stops the emulator Need started.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if started != nil {
		if err := started.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "firebaseauthtest: stop the Auth emulator:", err)
			if code == 0 {
				code = 1
			}
		}
		started = nil
	}
	return code
}

// Need returns the Auth emulator's host:port, starting it on first use,
// and sets FIREBASE_AUTH_EMULATOR_HOST for the SDK. Without a firebase
// CLI it skips the test (fails it when CI=true).
func Need(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if host == "" && failed == nil {
		host, failed = setUp()
	}
	if failed != nil {
		var missing *missingCLI
		if errors.As(failed, &missing) && os.Getenv("CI") != "true" {
			t.Skip(failed)
		}
		t.Fatal(failed)
	}
	return host
}

type missingCLI struct{ tried []string }

func (m *missingCLI) Error() string {
	return fmt.Sprintf("no firebase CLI for the Auth emulator (tried %v): run scripts/firebase-tools.sh, "+
		"or set FIREBASE_AUTH_EMULATOR_HOST to a running emulator", m.tried)
}

func setUp() (string, error) {
	if h := os.Getenv(emulatorEnv); h != "" {
		return h, nil
	}
	cli, err := findCLI()
	if err != nil {
		return "", err
	}
	e, err := start(cli)
	if err != nil {
		return "", err
	}
	started = e
	os.Setenv(emulatorEnv, e.host)
	return e.host, nil
}

// findCLI looks for the firebase command.
func findCLI() (string, error) {
	var tried []string
	if p := os.Getenv("FIREBASE_CLI"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", &missingCLI{tried: []string{p + " (FIREBASE_CLI)"}}
		}
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".cache", "firebase-tools", "node_modules", ".bin", "firebase")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				tried = append(tried, p)
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if p, err := exec.LookPath("firebase"); err == nil {
		return p, nil
	}
	return "", &missingCLI{tried: append(tried, "firebase on PATH")}
}

// emulator is a running `firebase emulators:start`.
type emulator struct {
	cmd  *exec.Cmd
	host string
	dir  string
	log  string
	done chan struct{}
}

// start runs the emulator on free ports and waits until it answers.
func start(cli string) (*emulator, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "omtx-auth-emulator-")
	if err != nil {
		return nil, err
	}
	conf := map[string]any{"emulators": map[string]any{
		"auth":              map[string]any{"host": "127.0.0.1", "port": ports[0]},
		"hub":               map[string]any{"host": "127.0.0.1", "port": ports[1]},
		"logging":           map[string]any{"host": "127.0.0.1", "port": ports[2]},
		"ui":                map[string]any{"enabled": false},
		"singleProjectMode": true,
	}}
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(dir, "firebase.json"), b, 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "emulator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(cli, "emulators:start", "--only", "auth", "--project", Project)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "FIREBASE_CLI_DISABLE_UPDATE_CHECK=true")
	// Its own process group, so that stop ends node and anything it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Auth emulator: %w", err)
	}
	e := &emulator{cmd: cmd, host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), dir: dir, log: logPath,
		done: make(chan struct{})}
	go func() { cmd.Wait(); close(e.done) }()
	if err := e.waitReady(2 * time.Minute); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

// waitReady polls the emulator's root until it answers, the process
// ends, or the time is up.
func (e *emulator) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get("http://" + e.host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-e.done:
			log, _ := os.ReadFile(e.log)
			return fmt.Errorf("the Auth emulator exited before answering:\n%s", log)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(e.log)
			return fmt.Errorf("the Auth emulator did not answer on %s within %v:\n%s", e.host, limit, log)
		}
	}
}

// stop ends the emulator's process group (TERM, then KILL after 10 s)
// and removes its folder.
func (e *emulator) stop() error {
	defer os.RemoveAll(e.dir)
	pgid := e.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.done
	}
	// Children that outlived the leader are still in the group.
	if err := syscall.Kill(-pgid, 0); err == nil {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// User is an emulator account with a password.
type User struct {
	UID      string
	Email    string
	Password string
}

// SignUp creates an email/password account on the emulator and returns
// it.
func SignUp(ctx context.Context, host, email, password string) (*User, error) {
	var out struct {
		LocalID string `json:"localId"`
	}
	if err := call(ctx, host, "accounts:signUp", map[string]any{"email": email, "password": password, "returnSecureToken": true}, &out); err != nil {
		return nil, err
	}
	return &User{UID: out.LocalID, Email: email, Password: password}, nil
}

// SignIn signs an account in as the JS SDK does (REST
// accounts:signInWithPassword) and returns its ID token.
func SignIn(ctx context.Context, host string, u *User) (string, error) {
	var out struct {
		IDToken string `json:"idToken"`
	}
	if err := call(ctx, host, "accounts:signInWithPassword", map[string]any{"email": u.Email, "password": u.Password, "returnSecureToken": true}, &out); err != nil {
		return "", err
	}
	return out.IDToken, nil
}

// call posts to the emulator's Identity Toolkit API.
func call(ctx context.Context, host, method string, in, out any) error {
	b, _ := json.Marshal(in)
	u := "http://" + host + "/identitytoolkit.googleapis.com/v1/" + method + "?key=" + APIKey
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", method, resp.Status, body.String())
	}
	return json.Unmarshal(body.Bytes(), out)
}

// NextSecond waits until the wall clock's second changes. Firebase
// records revocations in whole seconds, and a token issued in the same
// second as a revocation still passes; a test that revokes after signing
// in waits for the next second first.
func NextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 10*time.Millisecond).Sub(now))
}
