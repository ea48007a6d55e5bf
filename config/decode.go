package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// decode decodes data, the file path, into v strictly, and turns
// go-toml's errors into *Error: placed, and in TOML's words rather than
// Go's (the Go side of each message is looked up in v's own type).
func decode(path string, data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	schema := reflect.TypeOf(v).Elem()
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, len(strict.Errors))
		for i := range strict.Errors {
			errs[i] = decodeError(path, schema, &strict.Errors[i])
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		return decodeError(path, schema, de)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// decodeError is de, met decoding into schema, as an *Error.
func decodeError(path string, schema reflect.Type, de *toml.DecodeError) *Error {
	line, col := de.Position()
	key := de.Key()
	e := &Error{Path: path, Line: line, Column: col, Key: strings.Join(key, ".")}
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	switch {
	case msg == "unknown field" || msg == "missing table":
		// Strict mode's complaints: a key, or an empty table, that no
		// field claims.
		e.Msg = fmt.Sprintf("unknown field %q (known: %s)", e.Key, known(schema, key))
	case len(key) == 0:
		e.Msg = msg // a mistake of syntax
	default:
		e.Msg = e.Key + ": " + mismatch(schema, key, msg)
	}
	return e
}

// go-toml's words for a value of the wrong type: the TOML type met, and
// the Go type (or kind) it was to go into.
var (
	decodeInto = regexp.MustCompile(`^cannot decode TOML (.+) into (?:struct field \S+ of type )?(\S+)$`)
	storeIn    = regexp.MustCompile(`^cannot store an? (table|array table) in an? (\S+)$`)
)

// mismatch rewrites go-toml's message about a value of the wrong type at
// key: the Go type becomes what TOML calls it, and where key itself is
// a table or an array of tables, how to write one. Other messages are
// TOML's already.
func mismatch(schema reflect.Type, key []string, msg string) string {
	m := decodeInto.FindStringSubmatch(msg)
	if m == nil {
		m = storeIn.FindStringSubmatch(msg)
	}
	if m == nil {
		return msg
	}
	got, goType := m[1], m[2]
	want, ok := tomlTypes(schema)[goType]
	if !ok {
		want = kindWords[goType]
	}
	if want == "" {
		return msg
	}
	msg = fmt.Sprintf("cannot decode TOML %s into %s", got, want)
	switch t := typeAt(schema, key); {
	case t == nil:
	case deref(t).String() == goType:
		msg += header(t, strings.Join(key, "."))
	case deref(t).Kind() == reflect.Slice && deref(deref(t).Elem()).String() == goType:
		msg += " (in " + words(t) + ")"
	}
	return msg
}
