package vmctl

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"spirit/internal/tomlpos"
)

// defaultTOML defines the VMs that exist without any configuration: the
// demo Linux guest and the reference Windows profile.
//
//go:embed default.toml
var defaultTOML string

// DefaultsFile is how errors and listings name the embedded defaults.
const DefaultsFile = "vmctl/default.toml (built in)"

// Defaults returns the built-in definitions, as written (see Merge).
func Defaults() (map[string]Definition, error) {
	return Parse(DefaultsFile, []byte(defaultTOML))
}

// Load reads the [vm.NAME] tables of files (spirit.toml files: their
// other tables belong to others and are left alone) and lays them over
// the built-in definitions, in order: a VM defined again replaces the
// earlier definition whole, so a user's [vm.windows] is all there is of
// @windows. The result has defaults applied.
func Load(files ...string) (map[string]Definition, error) {
	defs, err := Defaults()
	if err != nil {
		return nil, err
	}
	layers := []map[string]Definition{defs}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("vm definitions: %w", err)
		}
		defs, err := Parse(f, data)
		if err != nil {
			return nil, err
		}
		layers = append(layers, defs)
	}
	return Merge(layers...), nil
}

// Merge lays layers over each other, later ones replacing a VM of the
// same name whole, and returns the definitions with their names set and
// defaults applied.
func Merge(layers ...map[string]Definition) map[string]Definition {
	out := map[string]Definition{}
	for _, layer := range layers {
		for name, d := range layer {
			d.Name = name
			out[name] = d.WithDefaults()
		}
	}
	return out
}

// Parse decodes and validates the [vm.NAME] tables of a TOML file. An
// unknown field inside them is an error; tables outside [vm] are not
// looked at. Errors name path, line and field.
func Parse(path string, data []byte) (map[string]Definition, error) {
	var f struct {
		VM map[string]Definition `toml:"vm"`
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := decodeError(path, dec.Decode(&f)); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(f.VM)) {
		d := f.VM[name]
		d.Name, d.Source = name, path
		f.VM[name] = d
		if err := d.Validate(name); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, fmt.Errorf("%s:%d: %w", path, Line(data, name, fe.Key), err)
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if f.VM == nil {
		f.VM = map[string]Definition{}
	}
	return f.VM, nil
}

// decodeError turns go-toml's error into one that names the place, and
// drops the strict mode's complaints about tables that are not [vm].
func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var msgs []string
		for _, e := range strict.Errors {
			if k := e.Key(); len(k) > 0 && k[0] == "vm" {
				line, col := e.Position()
				msgs = append(msgs, fmt.Sprintf("%s:%d:%d: unknown field %q (known: vm.NAME.%s)", path, line, col, strings.Join(k, "."), Fields()))
			}
		}
		if len(msgs) == 0 {
			return nil
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		msg = goField.ReplaceAllStringFunc(msg, func(m string) string {
			goType := goField.FindStringSubmatch(m)[1]
			return "into " + cmp.Or(tomlTypes[goType], goType)
		})
		if k := de.Key(); len(k) > 0 && !strings.Contains(msg, strings.Join(k, ".")) {
			msg = strings.Join(k, ".") + ": " + msg
		}
		return fmt.Errorf("%s:%d:%d: %s", path, line, col, msg)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// goField is the Go side of go-toml's type errors, which users should not
// have to read.
var goField = regexp.MustCompile(`into struct field \S+ of type (\S+)`)

// tomlTypes names the Go types of Definition's fields as TOML does.
var tomlTypes = map[string]string{
	"string": "a string", "int": "an integer", "bool": "a boolean", "*bool": "a boolean",
	"[]string": "an array of strings", "[]int": "an array of integers",
	"[]vmctl.Disk": "an array of tables", "vmctl.Network": "a table",
}

// Line is the line of data where the field key of [vm.name] is set (a
// FieldError's Key), or else where its nearest enclosing key or table
// is; 0 when none is there. An index in key counts the [[...]] tables of
// that array.
func Line(data []byte, name string, key []string) int {
	return tomlpos.Line(data, append([]string{"vm", name}, key...)...)
}

// Fields lists the fields of a [vm.NAME] table, for messages about an
// unknown one. It reads the struct tags, so it cannot fall behind.
func Fields() string {
	return "{" + fieldList(reflect.TypeFor[Definition]()) + "}"
}

func fieldList(t reflect.Type) string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct:
			name += ".{" + fieldList(ft) + "}"
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			name += "[].{" + fieldList(ft.Elem()) + "}"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}
