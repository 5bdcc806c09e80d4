package results

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"omtx/jobs"
)

const testAccessID = "omtx-hub@omtx-test.iam.gserviceaccount.com"

// testKey is a service account's RSA key, made once per test binary.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testKeyPEM is testKey as a JSON key file's "private_key" holds it.
func testKeyPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestSignedURLUnsupported(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		// No backend in the table can sign: file:// and mem:// never can,
		// and the gcs one has no signing credentials.
		put(t, s, "jobs/j/structure.cif", "data_x\n")
		u, ok, err := s.SignedURL(context.Background(), "jobs/j/structure.cif", time.Hour)
		if u != "" || ok || err != nil {
			t.Fatalf("SignedURL = %q, %v, %v; want \"\", false, nil", u, ok, err)
		}
	})
}

func TestSignedURLGCS(t *testing.T) {
	t.Setenv(EmulatorHostEnv, "") // signed URLs would point at it
	ctx := context.Background()
	srv, client := newFakeGCS(t)
	const key, content = "batches/b1/jobs/j 1/poses (R).sdf", "imatinib\n$$$$\n"
	var signCtx context.Context
	for _, tc := range []struct {
		name string
		opts GCSOptions
	}{
		{"private key", GCSOptions{GoogleAccessID: testAccessID, PrivateKey: testKeyPEM(t), SignedURLEndpoint: srv.URL()}},
		{"sign bytes", GCSOptions{GoogleAccessID: testAccessID, SignedURLEndpoint: srv.URL(),
			SignBytes: func(ctx context.Context, p []byte) ([]byte, error) {
				signCtx = ctx
				sum := sha256.Sum256(p)
				return rsa.SignPKCS1v15(rand.Reader, testKey(), crypto.SHA256, sum[:])
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenGCS(ctx, "results", client, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			put(t, s, key, content)
			type ctxKey struct{}
			sctx := context.WithValue(ctx, ctxKey{}, "download")
			raw, ok, err := s.SignedURL(sctx, key, 15*time.Minute)
			if err != nil || !ok {
				t.Fatalf("SignedURL = %q, %v, %v", raw, ok, err)
			}
			if tc.opts.SignBytes != nil && (signCtx == nil || signCtx.Value(ctxKey{}) != "download") {
				t.Error("SignBytes did not get SignedURL's context")
			}
			u := checkV4(t, raw, 15*time.Minute)
			if want := strings.TrimPrefix(srv.URL(), "http://"); u.Scheme != "http" || u.Host != want {
				t.Errorf("signed URL points at %s://%s, want http://%s", u.Scheme, u.Host, want)
			}
			if want := "/results/batches/b1/jobs/j%201/poses%20%28R%29.sdf"; rawPath(raw) != want {
				t.Errorf("path = %s, want %s", rawPath(raw), want)
			}
			// The fake server serves the URL (path-style, as Cloud Storage
			// does) but verifies neither the signature nor the expiry;
			// checkV4 verified the signature against the public key.
			resp, err := http.Get(raw)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != content {
				t.Fatalf("GET signed URL: %s %q", resp.Status, body)
			}
		})
	}

	t.Run("defaults to storage.googleapis.com", func(t *testing.T) {
		s, err := OpenGCS(ctx, "results", client, &GCSOptions{GoogleAccessID: testAccessID, PrivateKey: testKeyPEM(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		raw, ok, err := s.SignedURL(ctx, "jobs/j/structure.cif", MaxSignedURLTTL)
		if err != nil || !ok {
			t.Fatalf("SignedURL = %q, %v, %v", raw, ok, err)
		}
		checkV4(t, raw, MaxSignedURLTTL)
		if !strings.HasPrefix(raw, "https://storage.googleapis.com/results/jobs/j/structure.cif?") {
			t.Errorf("signed URL = %s", raw)
		}
		// The check above can fail: any change to what was signed breaks it.
		for _, tampered := range []string{
			strings.Replace(raw, "/structure.cif?", "/poses.sdf?", 1),
			strings.Replace(raw, "storage.googleapis.com", "evil.example.com", 1),
			strings.Replace(raw, "X-Goog-Expires=604800", "X-Goog-Expires=604801", 1),
		} {
			if verifyV4(tampered, &testKey().PublicKey) == nil {
				t.Errorf("tampered URL verified: %s", tampered)
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		s, err := OpenGCS(ctx, "results", client, &GCSOptions{GoogleAccessID: testAccessID, PrivateKey: testKeyPEM(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, tc := range []struct {
			key   string
			ttl   time.Duration
			field string
		}{
			{"../etc/passwd", time.Hour, "key"},
			{"jobs/j/x", 0, "ttl"},
			{"jobs/j/x", -time.Minute, "ttl"},
			{"jobs/j/x", 500 * time.Millisecond, "ttl"},
			{"jobs/j/x", MaxSignedURLTTL + time.Second, "ttl"},
		} {
			_, ok, err := s.SignedURL(ctx, tc.key, tc.ttl)
			var je *jobs.Error
			if ok || !jobs.IsCode(err, jobs.ErrInvalid) || !errors.As(err, &je) || je.Field != tc.field {
				t.Errorf("SignedURL(%q, %v) = %v, %v; want invalid %s", tc.key, tc.ttl, ok, err, tc.field)
			}
		}
	})
}

// mustECKey is a PKCS#8 ECDSA key: PEM and PKCS#8, but not RSA.
func mustECKey(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rawPath is the escaped path of a URL, exactly as written.
func rawPath(raw string) string {
	rest := raw[strings.Index(raw, "://")+3:]
	rest = rest[strings.Index(rest, "/"):]
	if i := strings.Index(rest, "?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// checkV4 checks that raw is a V4 signed GET URL that lasts ttl, signed now
// by testAccessID, and verifies its signature with testKey's public key by
// rebuilding the string to sign as Cloud Storage documents it
// (https://cloud.google.com/storage/docs/authentication/signatures).
func checkV4(t *testing.T, raw string, ttl time.Duration) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	now := time.Now().UTC()
	date, err := time.Parse("20060102T150405Z", q.Get("X-Goog-Date"))
	if err != nil || now.Sub(date).Abs() > time.Minute {
		t.Errorf("X-Goog-Date = %q, want about %s", q.Get("X-Goog-Date"), now.Format("20060102T150405Z"))
	}
	scope := date.Format("20060102") + "/auto/storage/goog4_request"
	for name, want := range map[string]string{
		"X-Goog-Algorithm":     "GOOG4-RSA-SHA256",
		"X-Goog-Credential":    testAccessID + "/" + scope,
		"X-Goog-Expires":       strconv.Itoa(int(ttl / time.Second)),
		"X-Goog-SignedHeaders": "host",
	} {
		if got := q.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if err := verifyV4(raw, &testKey().PublicKey); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	return u
}

// verifyV4 checks raw's V4 signature (of a GET with only the host header
// signed) against pub.
func verifyV4(raw string, pub *rsa.PublicKey) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	q := u.Query()
	sig, err := hex.DecodeString(q.Get("X-Goog-Signature"))
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("X-Goog-Signature = %q", q.Get("X-Goog-Signature"))
	}
	q.Del("X-Goog-Signature")
	_, scope, _ := strings.Cut(q.Get("X-Goog-Credential"), "/")
	canonical := strings.Join([]string{
		http.MethodGet,
		rawPath(raw),
		strings.ReplaceAll(q.Encode(), "+", "%20"),
		"host:" + u.Hostname(),
		"",
		"host",
		"UNSIGNED-PAYLOAD",
	}, "\n")
	digest := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{q.Get("X-Goog-Algorithm"), q.Get("X-Goog-Date"), scope, hex.EncodeToString(digest[:])}, "\n")
	sum := sha256.Sum256([]byte(toSign))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

func TestOpenGCSOptions(t *testing.T) {
	ctx := context.Background()
	_, client := newFakeGCS(t)
	keyPEM := testKeyPEM(t)
	ecKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustECKey(t)})
	sign := func(context.Context, []byte) ([]byte, error) { return nil, nil }
	for _, tc := range []struct {
		name   string
		bucket string
		client *storage.Client
		opts   GCSOptions
		field  string // "" for an error that is not a *jobs.Error
	}{
		{"no client", "results", nil, GCSOptions{}, ""},
		{"empty bucket", "", client, GCSOptions{}, "bucket"},
		{"bucket with slash", "results/x", client, GCSOptions{}, "bucket"},
		{"upper-case bucket", "Results", client, GCSOptions{}, "bucket"},
		{"key without account", "results", client, GCSOptions{PrivateKey: keyPEM}, "google_access_id"},
		{"signer without account", "results", client, GCSOptions{SignBytes: sign}, "google_access_id"},
		{"account without key", "results", client, GCSOptions{GoogleAccessID: testAccessID}, "private_key"},
		{"key and signer", "results", client, GCSOptions{GoogleAccessID: testAccessID, PrivateKey: keyPEM, SignBytes: sign}, "private_key"},
		{"key not PEM", "results", client, GCSOptions{GoogleAccessID: testAccessID, PrivateKey: []byte("secret")}, "private_key"},
		{"key not RSA", "results", client, GCSOptions{GoogleAccessID: testAccessID, PrivateKey: ecKey}, "private_key"},
		{"bad endpoint", "results", client, GCSOptions{SignedURLEndpoint: "ftp://127.0.0.1:1"}, "signed_url_endpoint"},
		{"endpoint with path", "results", client, GCSOptions{SignedURLEndpoint: "http://127.0.0.1:1/storage/v1/"}, "signed_url_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenGCS(ctx, tc.bucket, tc.client, &tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("OpenGCS succeeded")
			}
			var je *jobs.Error
			if isJE := errors.As(err, &je); isJE != (tc.field != "") || isJE && (je.Code != jobs.ErrInvalid || je.Field != tc.field) {
				t.Fatalf("err = %#v, want invalid field %q", err, tc.field)
			}
		})
	}
}

// TestOpenGSEmulatorHost opens gs:// URLs the way production does, with
// STORAGE_EMULATOR_HOST naming the fake server in both of its spellings.
func TestOpenGSEmulatorHost(t *testing.T) {
	ctx := context.Background()
	srv, _ := newFakeGCS(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, testKeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	hostPort := strings.TrimPrefix(srv.URL(), "http://")
	for _, env := range []string{hostPort, srv.URL()} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(EmulatorHostEnv, env)
			s, err := Open(ctx, "gs://results")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			key := "jobs/" + strings.NewReplacer(":", "_", "/", "_").Replace(env) + "/logs.txt"
			put(t, s, key, "hello\n")
			if got := string(get(t, s, key)); got != "hello\n" {
				t.Fatalf("get = %q", got)
			}
			// The emulator client has no credentials to sign with.
			if u, ok, err := s.SignedURL(ctx, key, time.Hour); ok || err != nil {
				t.Fatalf("SignedURL without an account = %q, %v, %v", u, ok, err)
			}

			// gocloud's URL parameters name the signing account.
			signing, err := Open(ctx, "gs://results?access_id="+url.QueryEscape(testAccessID)+"&private_key_path="+url.QueryEscape(keyFile))
			if err != nil {
				t.Fatal(err)
			}
			defer signing.Close()
			raw, ok, err := signing.SignedURL(ctx, key, time.Hour)
			if err != nil || !ok {
				t.Fatalf("SignedURL = %q, %v, %v", raw, ok, err)
			}
			checkV4(t, raw, time.Hour)
			if !strings.HasPrefix(raw, srv.URL()+"/results/"+key+"?") {
				t.Fatalf("signed URL %s does not point at the emulator", raw)
			}
			resp, err := http.Get(raw)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
				t.Fatalf("GET signed URL: %s %q", resp.Status, body)
			}

			missing, err := Open(ctx, "gs://no-such-bucket")
			if err != nil {
				t.Fatal(err)
			}
			defer missing.Close()
			if err := missing.Ping(ctx); err == nil {
				t.Fatal("ping of a missing bucket succeeded")
			}
		})
	}
	t.Run("bad emulator host", func(t *testing.T) {
		t.Setenv(EmulatorHostEnv, "ftp://127.0.0.1:1")
		if s, err := Open(ctx, "gs://results"); err == nil {
			s.Close()
			t.Fatal("Open succeeded")
		}
	})
}

func TestOpenGSURLs(t *testing.T) {
	// Refused before any client is made, so no credentials are looked up.
	for _, bad := range []string{"gs://", "gs:///results", "gs://results/prefix", "gs://Results", "gs://a", "gs://user@results", "gs://results#x"} {
		if s, err := Open(context.Background(), bad); !jobs.IsCode(err, jobs.ErrInvalid) {
			if err == nil {
				s.Close()
			}
			t.Errorf("Open(%q) err = %v, want invalid", bad, err)
		}
	}
}

func TestPingGCS(t *testing.T) {
	ctx := context.Background()
	srv, client := newFakeGCS(t)
	s, err := OpenGCS(ctx, "results", client, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	missing, err := OpenGCS(ctx, "no-such-bucket", client, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if err := missing.Ping(ctx); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("ping missing bucket: %v", err)
	}
	// A server that is gone: the client retries until the context ends.
	srv.Stop()
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Ping(tctx); err == nil {
		t.Fatal("ping of a stopped server succeeded")
	}
}
