package outbox

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// readIPNAnswer reads the mode and type of a kr-answer exactly as
// json.Unmarshal into ipnAnswer does, error included. Unmarshal checked
// the whole 4 kB answer with encoding/json's scanner and then scanned it
// again to decode two strings (half of an IPN's delivery CPU in a profile
// of the silent bench); scanIPNAnswer checks and reads it in one pass and
// hands every case it does not settle itself (an escape in a key or in
// one of the two values, a null or a value of another type where they
// are, invalid UTF-8 in them, deep nesting, invalid JSON) to Unmarshal.
func readIPNAnswer(payload string) (ipnAnswer, error) {
	if a, ok := scanIPNAnswer(payload); ok {
		return a, nil
	}
	var a ipnAnswer
	err := json.Unmarshal([]byte(payload), &a)
	return a, err
}

// scanIPNAnswer validates s as JSON (RFC 8259, as json.Valid does: bytes
// of strings are not checked for UTF-8) and reads the top-level "_type"
// and "orderDetails"."mode". ok is false when s is not valid or when the
// answer could differ from Unmarshal's; a is then meaningless.
func scanIPNAnswer(s string) (a ipnAnswer, ok bool) {
	i := skipSpace(s, 0)
	i, ok = scanMembers(s, i, func(key string, i int) (int, bool) {
		// Unmarshal matches keys without regard to case (its foldName
		// equals bytes.EqualFold); a later key overwrites an earlier one.
		switch {
		case strings.EqualFold(key, "_type"):
			return scanPlainString(s, i, &a.Type)
		case strings.EqualFold(key, "orderDetails"):
			return scanMembers(s, i, func(key string, i int) (int, bool) {
				if strings.EqualFold(key, "mode") {
					return scanPlainString(s, i, &a.OrderDetails.Mode)
				}
				return scanValue(s, i, 1)
			})
		}
		return scanValue(s, i, 1)
	})
	return a, ok && skipSpace(s, i) == len(s)
}

// maxScanDepth bounds the nesting scanValue follows; deeper answers go to
// Unmarshal (whose own limit is 10,000).
const maxScanDepth = 100

// scanMembers scans the object at s[i] and calls member for each key (raw,
// without escapes: a key with one is not ok) with the index of its value;
// member returns the index after the value.
func scanMembers(s string, i int, member func(key string, i int) (int, bool)) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return i, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return i, false
		}
		end, escaped, ok := scanString(s, i)
		if !ok || escaped {
			return i, false
		}
		key := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return i, false
		}
		if i, ok = member(key, skipSpace(s, i+1)); !ok {
			return i, false
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return i, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// scanPlainString reads the string at s[i] into *dst when Unmarshal would
// store exactly its bytes: no escape, valid UTF-8.
func scanPlainString(s string, i int, dst *string) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	end, escaped, ok := scanString(s, i)
	if !ok || escaped || !utf8.ValidString(s[i+1:end-1]) {
		return i, false
	}
	*dst = s[i+1 : end-1]
	return end, true
}

// scanValue scans any JSON value at s[i], depth levels deep.
func scanValue(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _, ok := scanString(s, i)
		return end, ok
	case c == '{':
		if depth >= maxScanDepth {
			return i, false
		}
		return scanMembers(s, i, func(_ string, i int) (int, bool) { return scanValue(s, i, depth+1) })
	case c == '[':
		if depth >= maxScanDepth {
			return i, false
		}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = scanValue(s, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return i, false
			}
			switch s[i] {
			case ',':
				i = skipSpace(s, i+1)
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(s, i)
	case strings.HasPrefix(s[i:], "true"):
		return i + 4, true
	case strings.HasPrefix(s[i:], "false"):
		return i + 5, true
	case strings.HasPrefix(s[i:], "null"):
		return i + 4, true
	}
	return i, false
}

// scanString scans the string at s[i] (a '"') and returns the index after
// its closing quote and whether it has escapes.
func scanString(s string, i int) (end int, escaped, ok bool) {
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

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(s string, i int) (int, bool) {
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

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
