package standin

import "testing"

func TestExitStatus(t *testing.T) {
	tests := []struct{ status, want int }{
		{0, 0},
		{1, 1},
		{130, 130},
		{255, 255},
		{256, 1},        // exit /b 256 on Windows is not a success
		{512, 1},        //
		{257, 1},        // the low byte, as ssh passes it on
		{0xC0000005, 5}, // an access violation's NTSTATUS
		{0xC0000100, 1}, // an NTSTATUS whose low byte is 0
		{-1, 255},       // never negative
	}
	for _, tt := range tests {
		if got := exitStatus(tt.status); got != tt.want {
			t.Errorf("exitStatus(%#x) = %d, want %d", tt.status, got, tt.want)
		}
	}
}
