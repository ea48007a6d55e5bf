package config

import (
	"reflect"
	"strings"
)

// kindWords name what go-toml gives as a reflect.Kind rather than a type.
var kindWords = map[string]string{
	"struct": "a table", "map": "a table", "slice": "an array",
	"string": "a string", "int": "an integer", "bool": "a boolean",
}

// tomlTypes names each Go type that schema holds (as reflect prints it,
// as go-toml's messages do) as TOML does.
func tomlTypes(schema reflect.Type) map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		t = deref(t)
		if _, seen := out[t.String()]; seen {
			return
		}
		out[t.String()] = words(t)
		switch t.Kind() {
		case reflect.Struct:
			for f := range t.Fields() {
				walk(f.Type)
			}
		case reflect.Slice, reflect.Map:
			walk(t.Elem())
		}
	}
	walk(schema)
	return out
}

// words is what TOML calls a value that decodes into t.
func words(t reflect.Type) string {
	t = deref(t)
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a float"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct:
		return "a table"
	case reflect.Map:
		if deref(t.Elem()).Kind() == reflect.Struct {
			return "a table of tables"
		}
		return "a table"
	case reflect.Slice:
		if deref(t.Elem()).Kind() == reflect.Struct {
			return "an array of tables"
		}
		w := words(t.Elem())
		_, noun, _ := strings.Cut(w, " ")
		return "an array of " + noun + "s"
	}
	return t.String()
}

// header says how to write key when it is a table, a table of tables or
// an array of tables: " ([vm.box.network])".
func header(t reflect.Type, key string) string {
	t = deref(t)
	switch {
	case t.Kind() == reflect.Struct:
		return " ([" + key + "])"
	case t.Kind() == reflect.Map && deref(t.Elem()).Kind() == reflect.Struct:
		return " ([" + key + ".NAME])"
	case t.Kind() == reflect.Slice && deref(t.Elem()).Kind() == reflect.Struct:
		return " ([[" + key + "]])"
	}
	return ""
}

// typeAt is the type that key decodes into in schema, nil when none.
// The key of a map's entry is its NAME; an array of tables' element has
// no key of its own.
func typeAt(schema reflect.Type, key []string) reflect.Type {
	t := schema
	for i, k := range key {
		switch t = deref(t); t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := field(t, k)
			if !ok {
				return nil
			}
			t = f.Type
		default:
			return nil
		}
		if s := deref(t); s.Kind() == reflect.Slice && deref(s.Elem()).Kind() == reflect.Struct && i < len(key)-1 {
			t = s.Elem()
		}
	}
	return t
}

// field is the field of struct t whose TOML key is k.
func field(t reflect.Type, k string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if tomlName(f) == k {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// known lists the keys that may be written where key is: the fields of
// the named table ([vm.NAME]) that key is in, or else every key of the
// file. It reads the struct tags, so it cannot fall behind.
func known(schema reflect.Type, key []string) string {
	if len(key) == 0 {
		return everyKey(schema)
	}
	t := schema
	for i, k := range key[:len(key)-1] {
		switch t = deref(t); t.Kind() {
		case reflect.Map:
			if e := deref(t.Elem()); e.Kind() == reflect.Struct && e.NumField() > 1 {
				return strings.Join(key[:i], ".") + ".NAME.{" + fieldList(e) + "}"
			}
			t = t.Elem()
		case reflect.Struct:
			f, ok := field(t, k)
			if !ok {
				return everyKey(schema)
			}
			t = f.Type
		default:
			return everyKey(schema)
		}
	}
	return everyKey(schema)
}

// everyKey lists the keys of a file of type schema: the fields of its
// tables, a named table's as NAME.{...}.
func everyKey(schema reflect.Type) string {
	var keys []string
	for f := range schema.Fields() {
		name := tomlName(f)
		switch t := deref(f.Type); {
		case name == "":
		case t.Kind() == reflect.Struct:
			for sub := range t.Fields() {
				if n := tomlName(sub); n != "" {
					keys = append(keys, name+"."+n)
				}
			}
		case t.Kind() == reflect.Map && deref(t.Elem()).Kind() == reflect.Struct:
			list := fieldList(deref(t.Elem()))
			if strings.Contains(list, ",") {
				list = "{" + list + "}"
			}
			keys = append(keys, name+".NAME."+list)
		default:
			keys = append(keys, name)
		}
	}
	return strings.Join(keys, ", ")
}

// fieldList lists the fields of a table of type t, the fields of its
// tables and of its arrays' tables in braces: "os, disks[].{path}".
func fieldList(t reflect.Type) string {
	var names []string
	for f := range t.Fields() {
		name := tomlName(f)
		if name == "" {
			continue
		}
		switch ft := deref(f.Type); {
		case ft.Kind() == reflect.Struct:
			name += ".{" + fieldList(ft) + "}"
		case ft.Kind() == reflect.Slice && deref(ft.Elem()).Kind() == reflect.Struct:
			name += "[].{" + fieldList(deref(ft.Elem())) + "}"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}
