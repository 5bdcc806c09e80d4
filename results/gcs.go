package results

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcerrors"

	"omtx/jobs"
)

// EmulatorHostEnv is the environment variable that points the gs:// backend
// at a Cloud Storage emulator (such as fake-gcs-server) instead of Google:
// "host:port" (plain HTTP) or "http://host:port". It is the variable the Go
// storage client itself honours.
const EmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// MaxSignedURLTTL is the longest a signed URL may stay valid: seven days,
// the limit of Cloud Storage's V4 signatures.
const MaxSignedURLTTL = 7 * 24 * time.Hour

// GCSOptions configure OpenGCS. The zero value opens a bucket whose Store
// cannot sign URLs.
type GCSOptions struct {
	// GoogleAccessID is the email of the service account that signs URLs
	// ("name@project.iam.gserviceaccount.com"). It needs PrivateKey or
	// SignBytes.
	GoogleAccessID string
	// PrivateKey is that account's RSA private key in PEM (the
	// "private_key" of its JSON key file).
	PrivateKey []byte
	// SignBytes signs a payload with that account's key held elsewhere,
	// e.g. through the IAM Credentials signBlob API: RSA PKCS#1 v1.5 over
	// the SHA-256 of payload. ctx is the one given to SignedURL. It is the
	// alternative to PrivateKey; set one, not both.
	SignBytes func(ctx context.Context, payload []byte) ([]byte, error)
	// SignedURLEndpoint is the scheme and host that signed URLs point at,
	// as "http://127.0.0.1:4443", for an emulator. Empty means
	// https://storage.googleapis.com, or the STORAGE_EMULATOR_HOST emulator
	// when that is set.
	SignedURLEndpoint string
}

// OpenGCS opens the Cloud Storage bucket named bucket through client. The
// caller owns client: Close does not close it. Nothing is sent to the
// bucket until the first call (see Ping).
func OpenGCS(ctx context.Context, bucket string, client *storage.Client, opts *GCSOptions) (*Store, error) {
	if client == nil {
		return nil, errors.New("results.OpenGCS: client is required")
	}
	if err := validateBucketName("bucket", bucket); err != nil {
		return nil, err
	}
	var o GCSOptions
	if opts != nil {
		o = *opts
	}
	gopts := &gcsblob.Options{Client: client}
	hasKey, hasSigner := len(o.PrivateKey) > 0, o.SignBytes != nil
	switch {
	case hasKey && hasSigner:
		return nil, jobs.FieldError("private_key", "set PrivateKey or SignBytes, not both")
	case (hasKey || hasSigner) && o.GoogleAccessID == "":
		return nil, jobs.FieldError("google_access_id", "is required to sign URLs")
	case o.GoogleAccessID != "" && !hasKey && !hasSigner:
		return nil, jobs.FieldError("private_key", "PrivateKey or SignBytes is required with a GoogleAccessID")
	case hasKey:
		if err := checkRSAKey(o.PrivateKey); err != nil {
			return nil, jobs.FieldError("private_key", "%v", err)
		}
		gopts.GoogleAccessID, gopts.PrivateKey = o.GoogleAccessID, o.PrivateKey
	case hasSigner:
		sign := o.SignBytes
		gopts.GoogleAccessID = o.GoogleAccessID
		gopts.MakeSignBytes = func(ctx context.Context) gcsblob.SignBytesFunc {
			return func(p []byte) ([]byte, error) { return sign(ctx, p) }
		}
	}
	endpoint := o.SignedURLEndpoint
	field := "signed_url_endpoint"
	if endpoint == "" {
		endpoint, field = os.Getenv(EmulatorHostEnv), EmulatorHostEnv
	}
	var ep *url.URL
	if endpoint != "" {
		var err error
		if ep, err = parseEndpoint(endpoint); err != nil {
			return nil, jobs.FieldError(field, "%v", err)
		}
	}
	b, err := gcsblob.OpenBucket(ctx, nil, bucket, gopts)
	if err != nil {
		return nil, fmt.Errorf("open bucket gs://%s: %w", bucket, err)
	}
	return &Store{b: b, signEndpoint: ep}, nil
}

// openGS opens a gs:// URL for Open. In production that is gocloud's URL
// opener, which finds Application Default Credentials and, from them, a
// signer (see the package comment). With STORAGE_EMULATOR_HOST set it is
// an unauthenticated client of the emulator, made by the storage package
// (which, unlike gocloud's opener, accepts the variable with or without
// "http://"), and owned by the Store.
func openGS(ctx context.Context, u *url.URL) (*Store, error) {
	emu := os.Getenv(EmulatorHostEnv)
	if emu == "" {
		b, err := blob.OpenBucket(ctx, u.String())
		if err != nil {
			return nil, err
		}
		return NewStore(b), nil
	}
	ep, err := parseEndpoint(emu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EmulatorHostEnv, err)
	}
	client, err := storage.NewClient(ctx)
	if err != nil {
		return nil, err
	}
	// The URL opener still reads access_id and private_key_path.
	opener := &gcsblob.URLOpener{Options: gcsblob.Options{Client: client}}
	b, err := opener.OpenBucketURL(ctx, u)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &Store{b: b, signEndpoint: ep, client: client}, nil
}

// SignedURL returns a URL through which anyone may GET the object key
// until ttl (at most MaxSignedURLTTL) has passed, so that a large file can
// be downloaded straight from the bucket rather than through the hub. On
// GCS it is a V4 signed URL (X-Goog-Algorithm=GOOG4-RSA-SHA256).
//
// ok is false, with no error, when this backend cannot sign: file://,
// mem://, or GCS without a signing service account; the caller then
// streams the object itself (Get). An error means signing was possible but
// failed (e.g. the IAM signBlob call was refused). It does not check that
// the object exists: a URL for a missing object answers 404.
func (s *Store) SignedURL(ctx context.Context, key string, ttl time.Duration) (string, bool, error) {
	if err := ValidateKey(key); err != nil {
		return "", false, err
	}
	if ttl < time.Second || ttl > MaxSignedURLTTL {
		return "", false, jobs.FieldError("ttl", "must be from 1s to %v, not %v", MaxSignedURLTTL, ttl)
	}
	u, err := s.b.SignedURL(ctx, key, &blob.SignedURLOptions{
		Expiry:     ttl,
		Method:     http.MethodGet,
		BeforeSign: s.beforeSign,
	})
	if gcerrors.Code(err) == gcerrors.Unimplemented {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sign %s: %w", key, err)
	}
	return u, true, nil
}

// beforeSign makes gcsblob sign with V4 (storage's default is still V2),
// for exactly the TTL asked, and points the URL at the emulator, if any.
func (s *Store) beforeSign(as func(any) bool) error {
	var o *storage.SignedURLOptions
	if !as(&o) {
		return nil
	}
	o.Scheme = storage.SigningSchemeV4
	// gcsblob set Expires to its now + ttl; storage takes its own, later,
	// now and truncates the difference to whole seconds, which would make
	// X-Goog-Expires one second short of ttl (and MaxSignedURLTTL 604799).
	// Rounding up keeps it at ttl and still within the seven-day limit.
	o.Expires = o.Expires.Add(time.Second - time.Nanosecond)
	if s.signEndpoint != nil {
		o.Hostname = s.signEndpoint.Host
		o.Insecure = s.signEndpoint.Scheme == "http"
	}
	return nil
}

// parseEndpoint reads an emulator address: "host:port", or a URL with
// scheme http or https and nothing after the host.
func parseEndpoint(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("%q is not host:port or http(s)://host:port", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// bucketName matches Cloud Storage bucket names: 3 to 222 lower-case
// letters, digits, "-", "_" and ".", starting and ending with a letter or
// digit (Google's finer rules, such as 63 bytes between dots, are left to
// Google).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

func validateBucketName(field, name string) error {
	if !bucketName.MatchString(name) {
		return jobs.FieldError(field, "%q is not a Cloud Storage bucket name", name)
	}
	return nil
}

// checkRSAKey reports whether key is a PEM RSA private key (PKCS#8, as in
// service account key files, or PKCS#1), which signing would need, so that
// a bad key fails at startup rather than at the first download.
func checkRSAKey(key []byte) error {
	blk, _ := pem.Decode(key)
	if blk == nil {
		return errors.New("is not PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return fmt.Errorf("is not an RSA private key: %v", err)
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return fmt.Errorf("is a %T, not an RSA private key", k)
	}
	return nil
}
