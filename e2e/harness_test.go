package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"omtx/firebaseauth/firebaseauthtest"
)

// chromiumPath is Debian's Chromium; scripts/setup.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// defaultDriverDir is where scripts/browser-setup.sh puts the Playwright
// driver, relative to this folder; PLAYWRIGHT_DRIVER_PATH overrides it.
const defaultDriverDir = "../.cache/playwright-driver"

// chromiumArgs run Chromium headless with no network of its own, and give
// it software WebGL for the 3D viewer.
var chromiumArgs = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--use-angle=swiftshader", "--enable-unsafe-swiftshader",
}

// timeouts of browser actions and of assertions, in milliseconds.
const (
	actionTimeout = 15_000
	expectTimeout = 10_000
)

// harness is what TestMain starts once for every test: the omtx binary
// serving on loopback with one in-process worker, two users, and Chromium.
type harness struct {
	// missing says which prerequisite is absent; set, the tests skip
	// (fail in CI) and nothing else is.
	missing string
	// broken is why the harness could not start although everything was
	// installed: the tests fail with it.
	broken error

	tmp        string // everything the run writes but the artifacts
	bin        string
	data       string
	base       string // http://127.0.0.1:PORT
	localToken string
	bobToken   string
	artifacts  string
	shots      atomic.Int32

	server  *exec.Cmd
	exited  chan struct{} // closed when the server has exited
	logFile *os.File
	pw      *playwright.Playwright
	browser playwright.Browser
	expect  playwright.PlaywrightAssertions
}

// h is the harness of this run.
var h *harness

func TestMain(m *testing.M) {
	flag.Parse()
	h = &harness{}
	if !testing.Short() {
		h.start()
	}
	// The Auth emulator, when a test starts it, stops after the tests.
	code := firebaseauthtest.Main(m)
	if err := h.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = 1
	}
	os.Exit(code)
}

// require gives the harness to a test that needs it: it skips when a
// prerequisite is missing, except in CI, where everything must be
// installed, and fails when the harness could not start.
func require(t *testing.T) *harness {
	t.Helper()
	switch {
	case testing.Short():
		t.Skip("browser tests dock with Vina and drive Chromium: skipped with -short")
	case h.broken != nil:
		t.Fatalf("browser test harness: %v", h.broken)
	case h.missing != "" && os.Getenv("CI") == "true":
		t.Fatalf("browser tests need what is missing in CI: %s", h.missing)
	case h.missing != "":
		t.Skipf("skipping browser tests: %s", h.missing)
	}
	return h
}

// prerequisites says what is missing for the tests to run, "" when
// nothing is.
func prerequisites(driverDir string) string {
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (Debian package chromium; run scripts/setup.sh as root)")
	}
	for _, f := range []string{"node", "package/cli.js"} {
		if _, err := os.Stat(filepath.Join(driverDir, f)); err != nil {
			missing = append(missing, fmt.Sprintf("the Playwright driver in %s (run scripts/browser-setup.sh .cache/playwright-driver)", driverDir))
			break
		}
	}
	for _, p := range []string{"vina", "obabel"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p+" (run scripts/setup.sh as root)")
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import rdkit").Run(); err != nil {
		missing = append(missing, "RDKit for /usr/bin/python3 (run scripts/setup.sh as root)")
	}
	return strings.Join(missing, "; ")
}

func (h *harness) start() {
	driverDir := os.Getenv("PLAYWRIGHT_DRIVER_PATH")
	if driverDir == "" {
		driverDir = defaultDriverDir
	}
	driverDir, err := filepath.Abs(driverDir)
	if err != nil {
		h.broken = err
		return
	}
	if h.missing = prerequisites(driverDir); h.missing != "" {
		return
	}
	if h.broken = h.startServer(); h.broken != nil {
		return
	}
	h.broken = h.startBrowser(driverDir)
}

// startServer builds omtx, serves a fresh data folder on a free loopback
// port with one worker, and adds the second user, bob.
func (h *harness) startServer() error {
	var err error
	if h.artifacts, err = filepath.Abs("artifacts"); err != nil {
		return err
	}
	// Screenshots and downloads of an earlier run would mislead.
	if err := os.RemoveAll(h.artifacts); err != nil {
		return err
	}
	if err := os.MkdirAll(h.artifacts, 0o755); err != nil {
		return err
	}
	if h.tmp, err = os.MkdirTemp("", "omtx-e2e-"); err != nil {
		return err
	}
	// Chromium's profile goes under TMPDIR: keeping it in h.tmp makes every
	// process of the run recognisable, and removes the profile with it.
	if err := os.Setenv("TMPDIR", h.tmp); err != nil {
		return err
	}
	h.bin, h.data = filepath.Join(h.tmp, "omtx"), filepath.Join(h.tmp, "data")
	start := time.Now()
	if out, err := exec.Command("go", "build", "-o", h.bin, "..").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	fmt.Printf("e2e: built omtx in %s\n", time.Since(start).Round(time.Millisecond))

	if h.logFile, err = os.Create(filepath.Join(h.artifacts, "serve.log")); err != nil {
		return err
	}
	h.server = exec.Command(h.bin, "serve", "--addr", "127.0.0.1:0", "--data", h.data, "--workers", "1")
	h.server.Stderr = h.logFile
	out, err := h.server.StdoutPipe()
	if err != nil {
		return err
	}
	start = time.Now()
	if err := h.server.Start(); err != nil {
		return err
	}
	h.exited = make(chan struct{})
	go func() { h.server.Wait(); close(h.exited) }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(h.logFile, sc.Text())
			if rest, ok := strings.CutPrefix(sc.Text(), "OMTX-Hub serving on "); ok {
				addr <- strings.Fields(rest)[0]
				break
			}
		}
		io.Copy(h.logFile, out)
	}()
	select {
	case a := <-addr:
		h.base = strings.TrimSuffix(a, "/")
	case <-h.exited:
		return fmt.Errorf("omtx serve exited before serving (see %s)", h.logFile.Name())
	case <-time.After(30 * time.Second):
		return fmt.Errorf("omtx serve printed no address in 30 s (see %s)", h.logFile.Name())
	}
	if u, err := url.Parse(h.base); err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("omtx serve listens on %q, not on loopback", h.base)
	}
	fmt.Printf("e2e: omtx serve on %s in %s\n", h.base, time.Since(start).Round(time.Millisecond))
	token, err := os.ReadFile(filepath.Join(h.data, "local-token"))
	if err != nil {
		return err
	}
	h.localToken = strings.TrimSpace(string(token))

	added, err := exec.Command(h.bin, "users", "add", "bob", "--data", h.data).CombinedOutput()
	if err != nil {
		return fmt.Errorf("omtx users add bob: %v\n%s", err, added)
	}
	lines := strings.Split(strings.TrimSpace(string(added)), "\n")
	h.bobToken = strings.TrimSpace(lines[len(lines)-1])
	if h.bobToken == "" || strings.ContainsAny(h.bobToken, " \t") {
		return fmt.Errorf("omtx users add bob printed no token:\n%s", added)
	}
	return nil
}

// startBrowser starts the Playwright driver from driverDir, without
// installing anything, and launches Debian's Chromium.
func (h *harness) startBrowser(driverDir string) error {
	start := time.Now()
	var err error
	h.pw, err = playwright.Run(&playwright.RunOptions{DriverDirectory: driverDir, SkipInstallBrowsers: true, Verbose: false})
	if err != nil {
		return fmt.Errorf("playwright (run scripts/browser-setup.sh .cache/playwright-driver): %w", err)
	}
	h.browser, err = h.pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath: playwright.String(chromiumPath),
		Headless:       playwright.Bool(true),
		Args:           chromiumArgs,
	})
	if err != nil {
		return fmt.Errorf("launch %s: %w", chromiumPath, err)
	}
	h.expect = playwright.NewPlaywrightAssertions(expectTimeout)
	fmt.Printf("e2e: Chromium %s launched in %s\n", h.browser.Version(), time.Since(start).Round(time.Millisecond))
	return nil
}

// stop closes the browser and the driver, stops the server with SIGTERM,
// and checks that no process of the run is left.
func (h *harness) stop() error {
	var errs []error
	if h.browser != nil {
		if err := h.browser.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close browser: %w", err))
		}
	}
	if h.pw != nil {
		if err := h.pw.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop playwright: %w", err))
		}
	}
	if h.server != nil && h.server.Process != nil {
		h.server.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(30 * time.Second):
			h.server.Process.Kill()
			<-h.exited
			errs = append(errs, errors.New("omtx serve did not stop within 30 s of SIGTERM"))
		}
	}
	if h.logFile != nil {
		h.logFile.Close()
	}
	if h.tmp != "" {
		if left := waitGone(h.tmp, 10*time.Second); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes left running (killed now): %s", strings.Join(left, "; ")))
		}
		if err := os.RemoveAll(h.tmp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitGone waits until no live process mentions dir on its command line;
// those still there after limit are killed and described.
func waitGone(dir string, limit time.Duration) []string {
	var left map[int]string
	for end := time.Now().Add(limit); ; time.Sleep(100 * time.Millisecond) {
		if left = processesOf(dir); len(left) == 0 || time.Now().After(end) {
			break
		}
	}
	var out []string
	for pid, cmdline := range left {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
		out = append(out, fmt.Sprintf("%d %.120s", pid, cmdline))
	}
	return out
}

// processesOf lists the live processes (not zombies) whose command line
// mentions dir.
func processesOf(dir string) map[int]string {
	out := map[int]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		if !strings.Contains(cmdline, dir) {
			continue
		}
		stat, _ := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "stat")
		if s := string(stat); strings.Contains(s[strings.LastIndexByte(s, ')')+1:], " Z ") {
			continue
		}
		var pid int
		fmt.Sscanf(strings.TrimPrefix(p, "/proc/"), "%d", &pid)
		if pid != os.Getpid() {
			out[pid] = cmdline
		}
	}
	return out
}

// session is one user's browser: its own context (cookies), one page,
// and what the guard refused.
type session struct {
	h       *harness
	user    string
	context playwright.BrowserContext
	page    playwright.Page

	mu         sync.Mutex
	blocked    []string // requests refused for leaving the server
	sockets    []string // WebSocket URLs the page opened
	pageErrors []string // uncaught exceptions in the page
}

// newSession opens a browser context whose every request that leaves
// 127.0.0.1 is aborted, and one page in it. Cleanup closes it and fails
// the test if anything tried to leave.
func (h *harness) newSession(t *testing.T, user string) *session {
	t.Helper()
	bc, err := h.browser.NewContext(playwright.BrowserNewContextOptions{
		AcceptDownloads: playwright.Bool(true),
		Viewport:        &playwright.Size{Width: 1280, Height: 900},
	})
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	s := &session{h: h, user: user, context: bc}
	t.Cleanup(func() {
		bc.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range s.blocked {
			t.Errorf("%s's pages requested %s, outside the server: aborted", user, u)
		}
		for _, e := range s.pageErrors {
			t.Logf("%s's pages threw: %s", user, e)
		}
	})
	bc.SetDefaultTimeout(actionTimeout)
	err = bc.Route("**/*", func(r playwright.Route) {
		u := r.Request().URL()
		if loopback(u) {
			r.Continue()
			return
		}
		s.mu.Lock()
		s.blocked = append(s.blocked, u)
		s.mu.Unlock()
		r.Abort("blockedbyclient")
	})
	if err != nil {
		t.Fatalf("route guard: %v", err)
	}
	if s.page, err = bc.NewPage(); err != nil {
		t.Fatalf("new page: %v", err)
	}
	// WebSockets are not routed: a socket to anywhere else is reported.
	s.page.OnWebSocket(func(ws playwright.WebSocket) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sockets = append(s.sockets, ws.URL())
		if !loopback(ws.URL()) {
			s.blocked = append(s.blocked, ws.URL())
		}
	})
	s.page.OnPageError(func(err error) {
		s.mu.Lock()
		s.pageErrors = append(s.pageErrors, err.Error())
		s.mu.Unlock()
	})
	return s
}

// loopback says whether a request stays on this machine's 127.0.0.1 (or
// in the page: data: and blob: URLs).
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob":
		return true
	case "http", "https", "ws", "wss":
		return u.Hostname() == "127.0.0.1"
	}
	return false
}

// openedSocket says whether the page opened a WebSocket whose path is p.
func (s *session) openedSocket(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, raw := range s.sockets {
		if u, err := url.Parse(raw); err == nil && u.Path == p {
			return true
		}
	}
	return false
}

// goTo opens path on the server and returns the response's status.
func (s *session) goTo(t *testing.T, path string) int {
	t.Helper()
	resp, err := s.page.Goto(s.h.base + path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status()
}

// signIn signs the session in through the one-click link: the sign-in
// page's button posts the token.
func (s *session) signIn(t *testing.T, token string) {
	t.Helper()
	if code := s.goTo(t, "/signin?token="+url.QueryEscape(token)); code != 200 {
		t.Fatalf("GET /signin: %d", code)
	}
	s.shot(t, "signin-"+s.user)
	if err := s.page.GetByTestId("signin").Click(); err != nil {
		t.Fatalf("click sign in: %v", err)
	}
	s.expect(t, s.h.expect.Locator(s.page.GetByTestId("user-name")).ToHaveText(s.user), "the header names "+s.user)
}

// shot saves a full-page screenshot under artifacts/, numbered in the
// order taken.
func (s *session) shot(t *testing.T, name string) {
	t.Helper()
	n := s.h.shots.Add(1)
	p := filepath.Join(s.h.artifacts, fmt.Sprintf("%02d-%s.png", n, name))
	if _, err := s.page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(p), FullPage: playwright.Bool(true)}); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// shotOnFailure saves a screenshot of the page if the test fails.
func (s *session) shotOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			s.shot(t, "FAILED-"+strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()))
		}
	})
}

// expect fails the test when an assertion fails, saying what was wanted.
func (s *session) expect(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s (at %s): %v", what, s.page.URL(), err)
	}
}

// ctx is a context for API calls made beside the browser.
func ctx(t *testing.T, limit time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return c
}
