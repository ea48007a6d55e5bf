package main

import (
	"strings"
)

// profileDir chooses the directory a Windows agent's commands start in
// when --dir is not given: the profile, unless it is inside the Windows
// directory (LocalSystem's is System32\config\systemprofile), where a
// stray `echo x > x` would write among the system's files; the system
// drive's root then.
func profileDir(profile, systemRoot, systemDrive string) string {
	if profile != "" && !within(profile, systemRoot) {
		return profile
	}
	if systemDrive == "" {
		systemDrive = "C:"
	}
	return systemDrive + `\`
}

// within says whether the Windows path p is dir or inside it, whatever
// the case.
func within(p, dir string) bool {
	if dir == "" {
		return false
	}
	p = strings.ToLower(strings.TrimRight(p, `\`))
	dir = strings.ToLower(strings.TrimRight(dir, `\`))
	return p == dir || strings.HasPrefix(p, dir+`\`)
}
