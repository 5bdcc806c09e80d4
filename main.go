// Command omtx is the OMTX-Hub binary: the web server with in-process
// workers (serve), a standalone runner (worker), and operator commands.
//
// This file is the one composition root: every part is built here from
// flags and OMTX_* environment variables and handed its dependencies.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"omtx/accounts"
	"omtx/gpu"
	"omtx/gpu/boltz2"
	"omtx/gpu/chai1"
	"omtx/gpu/rfantibody"
	"omtx/gpu/vina"
	"omtx/handlers"
	"omtx/hub"
	"omtx/jobs"
	jobsfirestore "omtx/jobs/firestore"
	"omtx/jobs/sqlite"
	"omtx/live"
	"omtx/metrics"
	"omtx/ratelimit"
	"omtx/results"
	"omtx/static"
	"omtx/tracing"
	"omtx/webhook"
)

// bundled holds the bundled docking targets (receptors and boxes).
//
//go:embed testdata/vina/1iep_receptorH.pdb testdata/vina/1iep_receptor.box.txt testdata/vina/1iep_ligand.sdf testdata/targets
var bundled embed.FS

const usage = `omtx: OMTX-Hub, protein-ligand prediction for drug discovery

Usage:
  omtx serve   [--addr 127.0.0.1:8080] [--data DIR] [--workers N]   web server with in-process workers
  omtx worker  [--data DIR] [--workers N] [--models vina,boltz2]    runner only (default: every model this host runs)
               [--lease-ttl 2m] [--rescue-every 10s]                (both commands)
  omtx models                                                       models and whether this host runs them
  omtx users add NAME [--tier default|premium|enterprise]           a new user; prints an API token
  omtx submit | status | results | download | demo                  the API client (omtx CMD -h)
  omtx version

Engines (environment): OMTX_VINA_CPUS (Vina's --cpu; default all cores),
  OMTX_BOLTZ, OMTX_BOLTZ_CACHE, OMTX_CHAI (program paths),
  OMTX_MSA_SERVER=true to compute MSAs with the public MSA server.

Backends (flags or environment):
  --store  OMTX_STORE  sqlite:///path/omtx.db (default: DATA/omtx.db) | firestore://PROJECT[/ROOT/DOC]
                       (Firestore; FIRESTORE_EMULATOR_HOST selects the emulator)
  --blob   OMTX_BLOB   file:///path | gs://BUCKET | mem:// (default: file://DATA/files)
  --auth   OMTX_AUTH   local (API tokens; the default) | firebase (Firebase Authentication for
                       browsers, API tokens for programs; settings OMTX_FIREBASE_PROJECT,
                       OMTX_FIREBASE_API_KEY, OMTX_FIREBASE_AUTH_DOMAIN, OMTX_CSRF_KEY)
  OMTX_MODELS=vina,boltz2  models the web server takes submissions for (default: those
                           this host runs when it has workers, all of them otherwise)
`

const version = "0.1.0"

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "omtx:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, stdout, log)
	case "worker":
		return worker(ctx, rest, log)
	case "models":
		return listModels(ctx, rest, stdout)
	case "users":
		return usersCmd(ctx, rest, stdout)
	case "submit":
		return cmdSubmit(ctx, rest, stdout, os.Stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, os.Stderr)
	case "results":
		return cmdResults(ctx, rest, stdout, os.Stderr)
	case "download":
		return cmdDownload(ctx, rest, stdout, os.Stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, os.Stderr)
	case "version":
		fmt.Fprintln(stdout, "omtx", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// config is what the commands share.
type config struct {
	// metricsAddr, when set, serves /metrics there instead of on addr.
	metricsAddr string
	// models are the models the workers run (--models); empty: every
	// model this host can run.
	models  string
	addr    string
	dataDir string
	workers int
	store   string
	blob    string
	auth    string
	// leaseTTL is the runners' lease term; rescueEvery how often expired
	// leases are returned.
	leaseTTL    time.Duration
	rescueEvery time.Duration
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func parseFlags(name string, args []string, workersDefault int) (config, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", env("OMTX_ADDR", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&c.dataDir, "data", env("OMTX_DATA_DIR", "./data"), "data folder (database, files, work)")
	fs.IntVar(&c.workers, "workers", envInt("OMTX_WORKERS", workersDefault), "in-process workers")
	fs.StringVar(&c.store, "store", env("OMTX_STORE", ""), "job store URL")
	fs.StringVar(&c.blob, "blob", env("OMTX_BLOB", ""), "result files bucket URL")
	fs.StringVar(&c.auth, "auth", env("OMTX_AUTH", authLocal), "sign-in: local (API tokens) or firebase (Firebase Authentication)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", envDuration("OMTX_LEASE_TTL", 2*time.Minute), "lease term of a running job (heartbeats every third)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("OMTX_METRICS_ADDR", ""), "serve /metrics on this address only, not on --addr (e.g. a cluster-internal port)")
	fs.StringVar(&c.models, "models", env("OMTX_WORKER_MODELS", ""), "models the workers run, comma-separated (default: every model this host can run)")
	fs.DurationVar(&c.rescueEvery, "rescue-every", envDuration("OMTX_RESCUE_EVERY", 10*time.Second), "how often expired leases are returned")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	abs, err := filepath.Abs(c.dataDir)
	if err != nil {
		return c, err
	}
	c.dataDir = abs
	if c.store == "" {
		c.store = "sqlite://" + filepath.Join(abs, "omtx.db")
	}
	if c.blob == "" {
		c.blob = "file://" + filepath.Join(abs, "files")
	}
	if c.workers < 0 {
		return c, fmt.Errorf("--workers must not be negative")
	}
	if c.auth != authLocal && c.auth != authFirebase {
		return c, fmt.Errorf("--auth %q: want local (API tokens) or firebase (Firebase Authentication)", c.auth)
	}
	if _, err := workerModels(c.models); err != nil {
		return c, err
	}
	if c.leaseTTL < time.Second || c.rescueEvery <= 0 {
		return c, fmt.Errorf("--lease-ttl must be at least 1s and --rescue-every positive")
	}
	return c, nil
}

// openStore opens the job store named by a URL.
func openStore(ctx context.Context, raw string, clock jobs.Clock) (jobs.Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("store URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "sqlite":
		path := u.Host + u.Path
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path, jobs.Config{Clock: clock}, sqlite.Options{})
	case "firestore":
		project, opts, err := firestoreURL(u)
		if err != nil {
			return nil, err
		}
		return jobsfirestore.Open(ctx, project, jobs.Config{Clock: clock}, jobsfirestore.Options{Root: opts.root, DatabaseID: opts.database})
	default:
		return nil, fmt.Errorf("store URL %q: the scheme is not one of sqlite, firestore", raw)
	}
}

// firestoreLocation is where in a Firestore project the records live.
type firestoreLocation struct {
	root     string // the document the collections hang under; "" for the default
	database string // "" for (default)
}

// firestoreURL reads firestore://PROJECT[/ROOT/DOC][?database=DB]: the
// project, then optionally the document path the hub's collections live
// under (so that deployments can share a project) and the database.
func firestoreURL(u *url.URL) (string, firestoreLocation, error) {
	var loc firestoreLocation
	if u.Host == "" {
		return "", loc, fmt.Errorf("store URL %q: firestore://PROJECT names a project", u.Redacted())
	}
	loc.root = strings.Trim(u.Path, "/")
	loc.database = u.Query().Get("database")
	return u.Host, loc, nil
}

type backends struct {
	store    jobs.Store
	results  *results.Store
	registry *gpu.Registry
	clock    jobs.Clock
}

func (b *backends) Close() {
	b.store.Close()
	b.results.Close()
}

func openBackends(ctx context.Context, c config) (*backends, error) {
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	clock := jobs.SystemClock{}
	store, err := openStore(ctx, c.store, clock)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(c.blob, "file://") {
		if err := os.MkdirAll(strings.TrimPrefix(c.blob, "file://"), 0o755); err != nil {
			store.Close()
			return nil, err
		}
	}
	res, err := results.Open(ctx, c.blob)
	if err != nil {
		store.Close()
		return nil, err
	}
	reg, err := newRegistry()
	if err != nil {
		store.Close()
		res.Close()
		return nil, err
	}
	return &backends{store: store, results: res, registry: reg, clock: clock}, nil
}

// tempFileAge is how old a temporary file of a local result folder must be
// for sweepTemp to take it for the remains of a killed write.
const tempFileAge = time.Hour

// sweepTemp deletes, in the background, the temporary files that writes of
// a killed process left in a local result folder.
func (b *backends) sweepTemp(ctx context.Context, log *slog.Logger) {
	go func() {
		n, err := b.results.SweepTemp(ctx, b.clock.Now().Add(-tempFileAge))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("sweeping temporary files of interrupted writes", "err", err)
		case n > 0:
			log.Info("deleted temporary files of interrupted writes", "files", n)
		}
	}()
}

// newRegistry builds the model adapters. The GPU engines' programs and
// options come from the environment of the runner images.
func newRegistry() (*gpu.Registry, error) {
	targets, err := fs.Sub(bundled, "testdata")
	if err != nil {
		return nil, err
	}
	dock, err := vina.New(vina.Config{Targets: targets, CPUs: envInt("OMTX_VINA_CPUS", 0)})
	if err != nil {
		return nil, err
	}
	msaServer := os.Getenv("OMTX_MSA_SERVER") == "true"
	return gpu.NewRegistry(append([]gpu.Model{
		dock,
		boltz2.New(boltz2.Config{Program: env("OMTX_BOLTZ", "boltz"), CacheDir: os.Getenv("OMTX_BOLTZ_CACHE"), MSAServer: msaServer}),
		chai1.New(chai1.Config{Program: env("OMTX_CHAI", "chai-lab"), MSAServer: msaServer}),
		rfantibody.New(rfantibody.Config{}),
	}, testModels...)...), nil
}

// testModels are adapters that exist only in binaries built for tests
// (the chaostest build tag adds one); empty in every other build.
var testModels []gpu.Model

// workerModels reads --models: model names, comma-separated; nil for
// none given. Unknown names are refused by the registry check in worker.
func workerModels(v string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(v, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	if strings.TrimSpace(v) != "" && len(out) == 0 {
		return nil, fmt.Errorf("--models %q names no model", v)
	}
	return out, nil
}

// startWorkers runs n runners and one rescuer until ctx ends. m may be
// nil (no metrics).
func startWorkers(ctx context.Context, b *backends, c config, n int, m *metrics.Metrics, log *slog.Logger) *sync.WaitGroup {
	var wg sync.WaitGroup
	host, _ := os.Hostname()
	hooks := webhook.NewSender(webhook.SenderConfig{Clock: b.clock, Log: log, Observe: m.Webhook})
	models, _ := workerModels(c.models) // checked by parseFlags
	for i := 0; i < n; i++ {
		r, err := gpu.NewRunner(gpu.RunnerConfig{Store: b.store, Results: b.results, Registry: b.registry, Clock: b.clock, Log: log,
			Models: models,
			Owner:  fmt.Sprintf("%s-%d-w%d", host, os.Getpid(), i), WorkDir: filepath.Join(c.dataDir, "work"), LeaseTTL: c.leaseTTL,
			Metrics: m, Webhooks: hooks})
		if err != nil {
			log.Error("runner", "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		gpu.Rescue(ctx, gpu.RescueConfig{Store: b.store, Every: c.rescueEvery, Log: log, Metrics: m})
	}()
	return &wg
}

func serve(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	c, err := parseFlags("serve", args, 1)
	if err != nil {
		return err
	}
	b, err := openBackends(ctx, c)
	if err != nil {
		return err
	}
	defer b.Close()
	b.sweepTemp(ctx, log)
	users, err := openAccounts(ctx, c.store, b.clock)
	if err != nil {
		return err
	}
	defer users.Close()
	var (
		fb           *handlers.FirebaseConfig
		local        *accounts.User
		token        string
		withFirebase = func(*handlers.Deps) {}
	)
	if c.auth == authFirebase {
		if fb, err = openFirebase(ctx, users, os.Getenv, log); err != nil {
			return err
		}
		withFirebase = func(d *handlers.Deps) { d.Firebase = fb }
	} else if local, token, err = ensureLocalUser(ctx, users, filepath.Join(c.dataDir, "local-token")); err != nil {
		return err
	}
	stopTracing, err := tracing.Setup(ctx, "omtx-web", version)
	if err != nil {
		return err
	}
	defer stopTracing(context.WithoutCancel(ctx))
	m := metrics.New(b.store.Stats)
	e, stopLive, err := newServer(ctx, b, users, accounts.DefaultLimits(), m, acceptedModels(ctx, b.registry, c.workers),
		c.metricsAddr != "", log, withFirebase)
	if err != nil {
		return err
	}
	defer stopLive()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: withTracing(e), ReadHeaderTimeout: 10 * time.Second}
	if c.metricsAddr != "" {
		mln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		fmt.Fprintf(stdout, "Metrics on http://%s/metrics\n", mln.Addr())
	}
	wctx, cancelWorkers := context.WithCancel(ctx)
	wg := startWorkers(wctx, b, c, c.workers, m, log)
	fmt.Fprintf(stdout, "OMTX-Hub serving on http://%s (data in %s, %d workers)\n", ln.Addr(), c.dataDir, c.workers)
	if fb != nil {
		fmt.Fprintf(stdout, "Sign in with Firebase (project %s): http://%s/signin\n", fb.ProjectID, ln.Addr())
	} else {
		fmt.Fprintf(stdout, "Sign in as %s: http://%s/signin?token=%s\n", local.Name, ln.Addr(), url.QueryEscape(token))
		fmt.Fprintf(stdout, "API token of %s is in %s\n", local.Name, filepath.Join(c.dataDir, "local-token"))
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		stopLive()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(shut)
		cancel()
	}
	cancelWorkers()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// withTracing gives each request a server span that continues the
// caller's trace (W3C traceparent), when tracing is configured; the
// handlers name it by route. Without tracing the handler is unchanged.
func withTracing(h http.Handler) http.Handler {
	if !tracing.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, "http.server")
}

// newServer builds the web server's handler: the hub service over the
// backends, local-token auth, per-tier rate limits, metrics, the pages'
// assets and their WebSocket. stop ends the WebSockets (an http.Server's
// Shutdown does not track them). opts adjust the handlers' dependencies
// (Firebase sign-in).
func newServer(ctx context.Context, b *backends, users accounts.Store, limits map[accounts.Tier]accounts.Limits, m *metrics.Metrics,
	accept []string, metricsElsewhere bool, log *slog.Logger, opts ...func(*handlers.Deps)) (h http.Handler, stop func(), err error) {
	svc, err := hub.New(hub.Config{Store: b.store, Results: b.results, Models: b.registry, Accept: accept, Clock: b.clock, Log: log})
	if err != nil {
		return nil, nil, err
	}
	assets, err := static.New()
	if err != nil {
		return nil, nil, err
	}
	feed := live.New(live.Config{Store: b.store, Log: log, Clock: b.clock,
		Render: handlers.LiveRenderer(svc), Notice: handlers.LiveNotice})
	dock, _ := b.registry.Get("vina")
	vm, _ := dock.(*vina.Model)
	d := handlers.Deps{
		Log:      log,
		Service:  svc,
		Accounts: users,
		Tokens:   accounts.NewTokenCache(users, 30*time.Second, b.clock),
		Limits:   limits,
		Limiter:  ratelimit.New(b.clock),
		Metrics:  m,
		Clock:    b.clock,
		Ready: []handlers.Check{
			{Name: "store", Ping: b.store.Ping},
			{Name: "blob", Ping: b.results.Ping},
			{Name: "users", Ping: users.Ping},
		},
		Assets:   assets,
		Live:     feed.Handler(handlers.RequestUser),
		LiveHead: feed.Head,
		Targets:  handlers.BundledTargets(vm),
		// Served on --metrics-addr instead.
		HideMetrics: metricsElsewhere,
	}
	for _, o := range opts {
		o(&d)
	}
	return handlers.New(d), feed.Close, nil
}

// acceptedModels lists the models the web server takes submissions for:
// OMTX_MODELS when set; with in-process workers, the models this host can
// run (a submission for any other would wait for ever); without, every
// model (runners elsewhere take them).
func acceptedModels(ctx context.Context, reg *gpu.Registry, workers int) []string {
	if v := os.Getenv("OMTX_MODELS"); v != "" {
		return strings.Split(v, ",")
	}
	if workers > 0 {
		// Not nil: nil would accept every model.
		return append([]string{}, reg.Runnable(ctx)...)
	}
	return nil
}

func worker(ctx context.Context, args []string, log *slog.Logger) error {
	c, err := parseFlags("worker", args, 1)
	if err != nil {
		return err
	}
	if c.workers < 1 {
		return errors.New("worker: --workers must be at least 1")
	}
	b, err := openBackends(ctx, c)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := checkWorkerModels(ctx, b.registry, c.models); err != nil {
		return err
	}
	b.sweepTemp(ctx, log)
	stopTracing, err := tracing.Setup(ctx, "omtx-worker", version)
	if err != nil {
		return err
	}
	defer stopTracing(context.WithoutCancel(ctx))
	startWorkers(ctx, b, c, c.workers, nil, log).Wait()
	return nil
}

// checkWorkerModels refuses a --models list naming a model that is not
// known, or that this host cannot run (a runner image without its engine
// must fail at start, not lease nothing for ever).
func checkWorkerModels(ctx context.Context, reg *gpu.Registry, v string) error {
	models, _ := workerModels(v)
	avail := map[string]string{}
	var known []string
	for _, a := range reg.Check(ctx) {
		avail[a.Info.Name] = a.Reason
		known = append(known, a.Info.Name)
	}
	for _, m := range models {
		reason, ok := avail[m]
		switch {
		case !ok:
			return fmt.Errorf("worker: --models: unknown model %q (one of %s)", m, strings.Join(known, ", "))
		case reason != "":
			return fmt.Errorf("worker: --models: %s cannot run on this host: %s", m, reason)
		}
	}
	return nil
}

func listModels(ctx context.Context, args []string, stdout io.Writer) error {
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tVERSION\tRESOURCE\tRUNS HERE\tPRIMARY SCORE")
	for _, a := range reg.Check(ctx) {
		here := "yes"
		if a.Reason != "" {
			here = "no: " + a.Reason
		}
		primary := "-"
		if p, ok := a.Info.Primary(); ok {
			primary = fmt.Sprintf("%s (%s, %s is better)", p.Name, p.Unit, p.Better)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Info.Name, a.Info.Version, a.Info.Resource, here, primary)
	}
	return w.Flush()
}
