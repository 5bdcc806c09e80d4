package handlers

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"omtx/hub"
)

// download streams a file to the client as an attachment, or redirects
// to the bucket's signed URL of a large one. Nothing is
// held in memory beyond the writer's buffers. If the content fails before
// its first byte the caller gets the JSON error; after, the connection is
// cut short.
func download(c echo.Context, d *hub.Download) error {
	h := c.Response().Header()
	if d.URL != "" {
		// A large file: fetched from the bucket with a short-lived signed
		// URL, which no cache may keep.
		h.Set(echo.HeaderCacheControl, "no-store")
		return c.Redirect(http.StatusFound, d.URL)
	}
	ct := d.ContentType
	if ct == "" {
		ct = typeAny
	}
	h.Set(echo.HeaderContentType, ct)
	h.Set(echo.HeaderContentDisposition, contentDisposition(d.Name))
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	if err := d.Write(c.Response()); err != nil {
		if !c.Response().Committed {
			h.Del(echo.HeaderContentType)
			h.Del(echo.HeaderContentDisposition)
		}
		return err
	}
	if !c.Response().Committed {
		c.Response().WriteHeader(http.StatusOK) // an empty file
	}
	return nil
}

// maxFilenameLen bounds the suggested file name, in bytes.
const maxFilenameLen = 180

// contentDisposition returns an attachment header for a file name that
// may come from a user (a ligand's name): an ASCII filename for old
// clients and the UTF-8 name in filename*, both without quotes, slashes,
// control characters or line breaks.
func contentDisposition(name string) string {
	clean := cleanFilename(name)
	var ascii strings.Builder
	for _, r := range clean {
		if r < utf8.RuneSelf {
			ascii.WriteRune(r)
		} else {
			ascii.WriteByte('_')
		}
	}
	v := `attachment; filename="` + ascii.String() + `"`
	if ascii.String() != clean {
		v += "; filename*=UTF-8''" + percentEncode(clean)
	}
	return v
}

// cleanFilename drops control characters, quotes and invalid UTF-8,
// turns slashes and other separators into '_', trims dots and spaces at
// the ends (no hidden files, no ".."), bounds the length (keeping a short
// extension) and never answers an empty name.
func cleanFilename(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '"', r == '\'', r == '`',
			unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r), unicode.Is(unicode.Cf, r):
			// dropped
		case strings.ContainsRune(`/\:;*?<>|%`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.Trim(b.String(), ". ")
	if len(s) > maxFilenameLen {
		ext := ""
		if i := strings.LastIndexByte(s, '.'); i >= 0 && len(s)-i <= 10 {
			ext = s[i:]
		}
		stem := s[:maxFilenameLen-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		s = strings.Trim(stem, ". ") + ext
	}
	if s == "" || strings.Trim(s, "._ ") == "" {
		return "download"
	}
	return s
}

// percentEncode encodes s for an RFC 8187 ext-value: every byte outside
// attr-char as %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
