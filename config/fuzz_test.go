package config

import (
	"errors"
	"testing"
)

// FuzzParse feeds the decoder any text: it must not panic, and a mistake
// must come back as *Error (placed), never as go-toml's own error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[docker]\ndefault = \"web\"\nagent = [\"web\", \"*\"]\n",
		"[agents.a]\naddress = \"unix:/a.sock\"\n",
		"[vm.w]\nos = \"linux\"\nmemory = \"1G\"\n[[vm.w.disks]]\npath = \"a\"\n[vm.w.network]\nmode = \"none\"\n",
		"[vm.w]\ndisks = \"x\"\n", "vm = 3\n", "[vm]\nw = 3\n", "[[vm]]\n", "[vm.w]\ngpu = [1]\n",
		"[dokcer]\n", "a = 1\na = 2\n", "[docker\n", "vm.w.os = \"linux\"\nvm.w.memory = \"1G\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("spirit.toml", data)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: error %v (%T), want a *Error", data, err, err)
		}
	})
}
