package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"omtx/accounts"
	accfirestore "omtx/accounts/firestore"
	"omtx/accounts/sqlite"
	"omtx/firebaseauth"
	"omtx/handlers"
	"omtx/jobs"
)

const usersUsage = `Usage:
  omtx users add NAME [--tier default|premium|enterprise]   new user; prints an API token last
  omtx users list                                           users and tiers
  omtx users token NAME                                     another API token for NAME
  omtx users tier NAME TIER                                 change NAME's tier
Common flags: --data DIR, --store sqlite:///path (env OMTX_DATA_DIR, OMTX_STORE)
`

// openAccounts opens the user store that goes with the job store URL: in
// SQLite mode the same database file.
func openAccounts(ctx context.Context, storeURL string, clock jobs.Clock) (accounts.Store, error) {
	u, err := url.Parse(storeURL)
	if err != nil {
		return nil, fmt.Errorf("store URL %q: %w", storeURL, err)
	}
	switch u.Scheme {
	case "sqlite":
		path := u.Host + u.Path
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path, accounts.Config{Clock: clock})
	case "firestore":
		project, loc, err := firestoreURL(u)
		if err != nil {
			return nil, err
		}
		return accfirestore.Open(ctx, project, accounts.Config{Clock: clock}, accfirestore.Options{Root: loc.root, DatabaseID: loc.database})
	default:
		return nil, fmt.Errorf("store URL %q: the scheme is not one of sqlite, firestore", storeURL)
	}
}

// usersCmd manages users and their API tokens.
func usersCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usersUsage)
		if len(args) == 0 {
			return errors.New("users: no subcommand given")
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	fs.SetOutput(stdout)
	dataDir := fs.String("data", env("OMTX_DATA_DIR", "./data"), "data folder")
	store := fs.String("store", env("OMTX_STORE", ""), "store URL")
	tier := fs.String("tier", string(accounts.TierDefault), "tier: default, premium or enterprise")
	// Flags may come before or after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if *store == "" {
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			return err
		}
		*store = "sqlite://" + filepath.Join(abs, "omtx.db")
	}
	want := map[string]int{"add": 1, "list": 0, "token": 1, "tier": 2}
	n, ok := want[sub]
	if !ok {
		fmt.Fprint(stdout, usersUsage)
		return fmt.Errorf("users: unknown subcommand %q", sub)
	}
	if len(pos) != n {
		return fmt.Errorf("users %s: want %d argument(s), got %d (see omtx users -h)", sub, n, len(pos))
	}
	s, err := openAccounts(ctx, *store, jobs.SystemClock{})
	if err != nil {
		return err
	}
	defer s.Close()
	switch sub {
	case "add":
		t, err := accounts.ParseTier(*tier)
		if err != nil {
			return err
		}
		u, token, err := s.UserCreate(ctx, accounts.NewUser{Name: pos[0], Tier: t})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %s (id %s, tier %s); its API token (shown once):\n%s\n", u.Name, u.ID, u.Tier, token)
	case "list":
		users, err := s.UserList(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tTIER\tID\tCREATED")
		for _, u := range users {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, u.Tier, u.ID, u.CreatedAt.Format("2006-01-02 15:04"))
		}
		return w.Flush()
	case "token":
		u, err := s.UserByName(ctx, pos[0])
		if err != nil {
			return err
		}
		token, err := s.TokenCreate(ctx, u.ID, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new API token for %s (shown once):\n%s\n", u.Name, token)
	case "tier":
		t, err := accounts.ParseTier(pos[1])
		if err != nil {
			return err
		}
		u, err := s.UserByName(ctx, pos[0])
		if err != nil {
			return err
		}
		if u, err = s.UserSetTier(ctx, u.ID, t); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now %s\n", u.Name, u.Tier)
	}
	return nil
}

// localUser is the user of local auth mode.
const localUser = "local"

// ensureLocalUser makes sure the local user exists and that tokenFile
// holds a valid API token of theirs, creating either when missing, and
// returns the token.
func ensureLocalUser(ctx context.Context, s accounts.Store, tokenFile string) (*accounts.User, string, error) {
	u, err := s.UserByName(ctx, localUser)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		var token string
		u, token, err = s.UserCreate(ctx, accounts.NewUser{Name: localUser, Tier: accounts.TierEnterprise})
		if err != nil {
			return nil, "", fmt.Errorf("create the local user: %w", err)
		}
		return u, token, writeToken(tokenFile, token)
	}
	if err != nil {
		return nil, "", err
	}
	if b, err := os.ReadFile(tokenFile); err == nil {
		token := strings.TrimSpace(string(b))
		if owner, err := s.UserByToken(ctx, token); err == nil && owner.ID == u.ID {
			return u, token, nil
		}
	}
	token, err := s.TokenCreate(ctx, u.ID, "local-token")
	if err != nil {
		return nil, "", err
	}
	return u, token, writeToken(tokenFile, token)
}

// writeToken writes a token readable by its owner only, atomically.
func writeToken(path, token string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Sign-in modes (--auth).
const (
	authLocal    = "local"
	authFirebase = "firebase"
)

// Settings of Firebase sign-in (--auth firebase).
const (
	// envFirebaseProject is the Firebase project (required).
	envFirebaseProject = "OMTX_FIREBASE_PROJECT"
	// envFirebaseAPIKey and envFirebaseAuthDomain are the web app's
	// config for the sign-in page (the domain defaults to
	// PROJECT.firebaseapp.com).
	envFirebaseAPIKey     = "OMTX_FIREBASE_API_KEY"
	envFirebaseAuthDomain = "OMTX_FIREBASE_AUTH_DOMAIN"
	// envCSRFKey keys the HMAC of the sessions' CSRF tokens: at least 32
	// characters, the same on every replica of the web server.
	envCSRFKey = "OMTX_CSRF_KEY"
	// envDev=true marks a development or test run, the only kind that
	// may use the Firebase Auth emulator.
	envDev = "OMTX_DEV"
)

// minCSRFKey is the shortest OMTX_CSRF_KEY.
const minCSRFKey = 32

// firebaseSettings reads Firebase sign-in's settings: the Admin SDK
// client's and the sign-in page's.
func firebaseSettings(getenv func(string) string) (firebaseauth.Config, handlers.FirebaseConfig, error) {
	project := getenv(envFirebaseProject)
	if project == "" {
		return firebaseauth.Config{}, handlers.FirebaseConfig{}, fmt.Errorf("--auth firebase needs %s (the Firebase project id)", envFirebaseProject)
	}
	dev, _ := strconv.ParseBool(getenv(envDev))
	emulator := getenv(firebaseauth.EmulatorEnv)
	web := handlers.FirebaseConfig{
		ProjectID:  project,
		APIKey:     getenv(envFirebaseAPIKey),
		AuthDomain: getenv(envFirebaseAuthDomain),
	}
	if web.APIKey == "" && emulator == "" {
		return firebaseauth.Config{}, handlers.FirebaseConfig{}, fmt.Errorf("--auth firebase needs %s (the web API key of the Firebase app)", envFirebaseAPIKey)
	}
	if web.APIKey == "" {
		web.APIKey = "fake-api-key" // the emulator takes any
	}
	if web.AuthDomain == "" {
		web.AuthDomain = project + ".firebaseapp.com"
	}
	if emulator != "" {
		web.EmulatorURL = "http://" + emulator
	}
	if key := getenv(envCSRFKey); key != "" {
		if len(key) < minCSRFKey {
			return firebaseauth.Config{}, handlers.FirebaseConfig{}, fmt.Errorf("%s must have at least %d characters", envCSRFKey, minCSRFKey)
		}
		web.CSRFKey = []byte(key)
	}
	return firebaseauth.Config{ProjectID: project, AllowEmulator: dev}, web, nil
}

// openFirebase builds Firebase sign-in for serve. It refuses the Auth
// emulator (FIREBASE_AUTH_EMULATOR_HOST) unless OMTX_DEV=true.
func openFirebase(ctx context.Context, users accounts.Store, getenv func(string) string, log *slog.Logger) (*handlers.FirebaseConfig, error) {
	cfg, web, err := firebaseSettings(getenv)
	if err != nil {
		return nil, err
	}
	client, err := firebaseauth.New(ctx, cfg)
	if errors.Is(err, firebaseauth.ErrEmulatorRefused) {
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if web.EmulatorURL != "" {
		log.Warn("Firebase sign-in runs against the Auth emulator, whose tokens are unsigned: development only",
			"emulator", web.EmulatorURL)
	}
	if len(web.CSRFKey) == 0 {
		log.Warn(envCSRFKey + " is not set: sessions' CSRF tokens hold on this replica only; set it when running more than one")
	}
	web.Auth, web.Users = client, users
	return &web, nil
}
