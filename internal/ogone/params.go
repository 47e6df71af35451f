package ogone

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits on what a request may carry. Ogone's longest field is 1000
// characters (PARAMPLUS); a whole FlexCheckout or DirectLink request is a
// few kilobytes.
const (
	maxBody       = 64 << 10
	maxParams     = 200
	maxNameLength = 100
)

// Errors of ParseParams, told apart with errors.Is.
var (
	ErrBadEncoding = errors.New("ogone: request is not valid in its character encoding")
	ErrBadRequest  = errors.New("ogone: malformed request")
	ErrDuplicate   = errors.New("ogone: a parameter is sent twice")
	ErrTooLarge    = errors.New("ogone: request too large")
)

// Charset is how a request's bytes are read.
type Charset int

// Charsets: FlexCheckout and the _utf8 DirectLink pages read UTF-8; the
// legacy DirectLink pages read ISO-8859-1 (Latin-1), as Ogone did by default.
const (
	UTF8 Charset = iota
	Latin1
)

// ParseParams reads the parameters of a GET query and, for a POST, of its
// form body (application/x-www-form-urlencoded or multipart form), in that
// order. Names are compared without regard to case: a name sent twice, in
// the query and the body or twice in one of them, is refused (ErrDuplicate),
// since it would be unclear which value the signature covers.
func ParseParams(r *http.Request, cs Charset) (Params, error) {
	var out Params
	seen := map[string]bool{}
	add := func(raw string) error {
		ps, err := parseQuery(raw, cs)
		if err != nil {
			return err
		}
		for _, p := range ps {
			k := strings.ToUpper(p.Name)
			if seen[k] {
				return fmt.Errorf("%w: %s", ErrDuplicate, safeName(k))
			}
			seen[k] = true
			out = append(out, p)
			if len(out) > maxParams {
				return ErrTooLarge
			}
		}
		return nil
	}
	if len(r.URL.RawQuery) > maxBody {
		return nil, ErrTooLarge
	}
	if err := add(r.URL.RawQuery); err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return out, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "", "application/x-www-form-urlencoded":
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if len(body) > maxBody {
			return nil, ErrTooLarge
		}
		if err := add(strings.TrimSpace(string(body))); err != nil {
			return nil, err
		}
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
		if err := r.ParseMultipartForm(maxBody); err != nil {
			if strings.Contains(err.Error(), "too large") {
				return nil, ErrTooLarge
			}
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if len(r.MultipartForm.File) > 0 {
			return nil, fmt.Errorf("%w: files are not accepted", ErrBadRequest)
		}
		var parts []string
		for k, vs := range r.MultipartForm.Value {
			for _, v := range vs {
				parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
			}
		}
		if err := add(strings.Join(parts, "&")); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unsupported content type", ErrBadRequest)
	}
	return out, nil
}

// parseQuery splits an application/x-www-form-urlencoded string. Unlike
// url.ParseQuery it keeps the order and decodes Latin-1 when asked.
func parseQuery(raw string, cs Charset) (Params, error) {
	var out Params
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in a parameter name", ErrBadRequest)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in %s", ErrBadRequest, safeName(n))
		}
		if n, err = decode(n, cs); err != nil {
			return nil, err
		}
		if v, err = decode(v, cs); err != nil {
			return nil, fmt.Errorf("%w: %s", err, safeName(n))
		}
		n = strings.TrimSpace(n)
		if n == "" || len(n) > maxNameLength || !printableASCII(n) {
			return nil, fmt.Errorf("%w: bad parameter name", ErrBadRequest)
		}
		out = append(out, Param{Name: n, Value: v})
	}
	return out, nil
}

// decode turns raw bytes into a UTF-8 string, refusing invalid UTF-8 and
// control characters other than tab, CR and LF.
func decode(s string, cs Charset) (string, error) {
	if cs == Latin1 {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteRune(rune(s[i]))
		}
		s = b.String()
	} else if !utf8.ValidString(s) {
		return "", ErrBadEncoding
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return "", ErrBadEncoding
		}
	}
	return s, nil
}

// encodeLatin1 converts a string read with Latin1 back to its bytes, for
// hashing in the encoding the merchant signed.
func encodeLatin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return b
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// safeName bounds a parameter name quoted in an error or log line.
func safeName(n string) string {
	if len(n) > 40 {
		n = n[:40]
	}
	if !printableASCII(n) {
		return "(unprintable)"
	}
	return n
}
