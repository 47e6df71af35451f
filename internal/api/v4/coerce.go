package v4

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

var numberType = reflect.TypeFor[json.Number]()

// coerceScalars rewrites v, a JSON value decoded with UseNumber, for a
// decode into a value of type t, as PayZen reads its input: a number or a
// boolean where a string is expected becomes that string ("orderId": 1234
// is "1234"), a numeric string where an integer is expected becomes that
// number, and an empty array where an object is expected (PHP's
// json_encode of an empty array) an empty object. Anything else is left
// as it is, for the decode to refuse. Lyra's own PHP plugins send integers
// for orderId, customer.reference and metadata values (TestPHPIntegers…).
func coerceScalars(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == numberType {
		return v
	}
	switch t.Kind() {
	case reflect.String:
		switch x := v.(type) {
		case json.Number:
			return x.String()
		case bool:
			return strconv.FormatBool(x)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if s, ok := v.(string); ok {
			if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return json.Number(strings.TrimSpace(s))
			}
		}
	case reflect.Map:
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = coerceScalars(e, t.Elem())
			}
		case []any:
			if len(x) == 0 {
				return map[string]any{}
			}
		}
	case reflect.Struct:
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if f, ok := fieldFor(t, k); ok {
					x[k] = coerceScalars(e, f.Type)
				}
			}
		case []any:
			if len(x) == 0 {
				return map[string]any{}
			}
		}
	case reflect.Slice, reflect.Array:
		if x, ok := v.([]any); ok {
			for i, e := range x {
				x[i] = coerceScalars(e, t.Elem())
			}
		}
	}
	return v
}

// fieldFor is the field of struct type t that encoding/json fills from the
// JSON key: its tag name (or field name) exactly, else case-insensitively.
func fieldFor(t reflect.Type, key string) (reflect.StructField, bool) {
	var folded reflect.StructField
	found := false
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
		if !found && strings.EqualFold(name, key) {
			folded, found = f, true
		}
	}
	return folded, found
}
