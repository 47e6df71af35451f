// Package jsonscan checks JSON text in one pass and walks it without
// decoding, for the hot paths that read a few values of a document the
// server wrote itself (an IPN's kr-answer: its type and mode) and hand
// anything unusual to encoding/json. It accepts exactly what json.Valid
// accepts (RFC 8259; the bytes of strings are not checked for UTF-8),
// except nesting deeper than MaxDepth, which it refuses.
package jsonscan

import "strings"

// MaxDepth bounds the nesting Value follows (encoding/json's own limit
// is 10,000): a deeper document is refused, and its caller decodes it with
// encoding/json.
const MaxDepth = 100

// Members scans the object at s[i] and calls member for each key, as it
// is written (escaped tells whether it has escapes, which the caller may
// refuse or decode), with the index of its value; member returns the
// index after the value.
func Members(s string, i int, member func(key string, escaped bool, i int) (int, bool)) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return i, false
	}
	i = Space(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return i, false
		}
		end, escaped, ok := String(s, i)
		if !ok {
			return i, false
		}
		key := s[i+1 : end-1]
		i = Space(s, end)
		if i >= len(s) || s[i] != ':' {
			return i, false
		}
		if i, ok = member(key, escaped, Space(s, i+1)); !ok {
			return i, false
		}
		i = Space(s, i)
		if i >= len(s) {
			return i, false
		}
		switch s[i] {
		case ',':
			i = Space(s, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// Value scans any JSON value at s[i], depth levels deep.
func Value(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _, ok := String(s, i)
		return end, ok
	case c == '{':
		if depth >= MaxDepth {
			return i, false
		}
		return Members(s, i, func(_ string, _ bool, i int) (int, bool) { return Value(s, i, depth+1) })
	case c == '[':
		if depth >= MaxDepth {
			return i, false
		}
		i = Space(s, i+1)
		if i < len(s) && s[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = Value(s, i, depth+1); !ok {
				return i, false
			}
			i = Space(s, i)
			if i >= len(s) {
				return i, false
			}
			switch s[i] {
			case ',':
				i = Space(s, i+1)
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return Number(s, i)
	case strings.HasPrefix(s[i:], "true"):
		return i + 4, true
	case strings.HasPrefix(s[i:], "false"):
		return i + 5, true
	case strings.HasPrefix(s[i:], "null"):
		return i + 4, true
	}
	return i, false
}

// String scans the string at s[i] (a '"') and returns the index after
// its closing quote and whether it has escapes.
func String(s string, i int) (end int, escaped, ok bool) {
	for i++; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c < 0x20:
			return i, escaped, false
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				return i, escaped, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) {
					return i, escaped, false
				}
				for _, h := range []byte(s[i+2 : i+6]) {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, escaped, false
					}
				}
				i += 6
			default:
				return i, escaped, false
			}
		default:
			i++
		}
	}
	return i, escaped, false
}

// Number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func Number(s string, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if s[i] == '-' {
		i++
	}
	var ok bool
	switch {
	case i < len(s) && s[i] == '0':
		i++
	default:
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(s) && s[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}

// Space returns the index of the first byte at or after i that is not
// JSON whitespace.
func Space(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
