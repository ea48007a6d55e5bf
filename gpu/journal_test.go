package gpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadJournal: whatever the journal holds, what it yields never
// names a path outside sysfs (steps and addresses become paths), nor a
// unit or a module outside the GPU profile.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"begin":{"vm":"win","gpu":"0000:01:00.0","drivers":{"0000:01:00.0":"nvidia"}}}
{"step":{"kind":"stop-unit","name":"display-manager.service"}}
{"step":{"kind":"bind-vfio","name":"0000:01:00.0","driver":"nvidia"}}
{"step":{"kind":"start-vm","name":"win","functions":["0000:01:00.0"]}}
{"attached":true}
`))
	f.Add([]byte(`{"step":{"kind":"unbind-platform","name":"../../x","driver":"efi-framebuffer"}}`))
	f.Add([]byte(`{"begin":{"gpu":"x","drivers":{"../x":""}}}` + "\n{\"step\":"))
	f.Add([]byte(`{"step":{"kind":"stop-unit","name":"sshd.service"}}`))
	f.Add([]byte(`{"begin":{"gpu":"0000:01:00.0","display":"0000:01:00.0","drivers":{}}}
{"step":{"kind":"load-vfio","params":["disable_idle_d3=1"]}}
{"step":{"kind":"end-session","name":"2"}}
{"step":{"kind":"settle-drm","name":"0000:01:00.0"}}
{"step":{"kind":"unload-module","name":"nvidia_drm","params":["modeset=Y","fbdev=Y"]}}
{"step":{"kind":"unload-module","name":"nvidia","params":["x=1 init_module=evil"]}}
`))
	f.Add([]byte(`{"step":{"kind":"unload-module","name":"nvidia-drm"}}` + "\n" + `{"step":{"kind":"unload-module","name":"ext4"}}`))
	dir := f.TempDir()
	p := DefaultProfile()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, journalFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, ok, err := readJournal(dir, p)
		if err != nil || !ok {
			return
		}
		for _, s := range j.Steps {
			if p.allows(s) != nil {
				t.Fatalf("step %+v is outside the profile", s)
			}
			for _, p := range s.Params {
				if strings.ContainsAny(p, " \t\n\"'") || !strings.Contains(p, "=") {
					t.Fatalf("step %+v has a parameter that would split on a module's command line", s)
				}
			}
			for _, v := range append([]string{s.Name, s.Driver}, s.Functions...) {
				if strings.Contains(v, "/") || strings.Contains(v, "..") && s.Kind != stepStopUnit {
					t.Fatalf("step %+v names a path", s)
				}
			}
		}
		for a := range j.Drivers {
			if CheckAddr(a) != nil {
				t.Fatalf("driver of %q", a)
			}
		}
	})
}
