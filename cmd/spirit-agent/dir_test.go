package main

import "testing"

func TestProfileDir(t *testing.T) {
	tests := []struct {
		name, profile, root, drive, want string
	}{
		{"a user's profile", `C:\Users\me`, `C:\Windows`, `C:`, `C:\Users\me`},
		{"LocalSystem's, in System32", `C:\WINDOWS\system32\config\systemprofile`, `C:\Windows`, `C:`, `C:\`},
		{"the Windows directory itself", `C:\Windows\`, `C:\Windows`, `C:`, `C:\`},
		{"a sibling that only starts alike", `C:\WindowsApps\me`, `C:\Windows`, `C:`, `C:\WindowsApps\me`},
		{"no profile", ``, `C:\Windows`, `D:`, `D:\`},
		{"nothing known", ``, ``, ``, `C:\`},
	}
	for _, tt := range tests {
		if got := profileDir(tt.profile, tt.root, tt.drive); got != tt.want {
			t.Errorf("%s: profileDir(%q, %q, %q) = %q, want %q", tt.name, tt.profile, tt.root, tt.drive, got, tt.want)
		}
	}
}
