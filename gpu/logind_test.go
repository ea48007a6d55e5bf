package gpu

import "testing"

// TestUserIdle: a user's manager is ended after their graphical session
// only when nothing else of theirs must stay.
func TestUserIdle(t *testing.T) {
	for _, c := range []struct {
		name     string
		sessions []string
		linger   bool
		want     bool
	}{
		{"no session left", nil, false, true},
		{"the ended one, still closing", []string{"3"}, false, true},
		{"an SSH login too", []string{"3", "7"}, false, false},
		{"another session only", []string{"7"}, false, false},
		{"lingering", nil, true, false},
		{"lingering, the ended one closing", []string{"3"}, true, false},
	} {
		if got := userIdle("3", c.sessions, c.linger); got != c.want {
			t.Errorf("%s: userIdle = %v, want %v", c.name, got, c.want)
		}
	}
}
