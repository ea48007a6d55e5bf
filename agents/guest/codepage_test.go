package guest

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCodePageDecode(t *testing.T) {
	tests := []struct {
		name string
		cp   uint32
		in   string
		want string
	}{
		{"cp437 accent", 437, "caf\x82\r\n", "café\r\n"},
		{"cp437 box drawing", 437, "\xc9\xcd\xbb", "╔═╗"},
		{"cp850", 850, "Stra\xe1e \x9d", "Straße Ø"},
		{"cp852 polish", 852, "\x9d\xa2d\xab", "Łódź"},
		{"cp866 cyrillic", 866, "\x8f\xe0\xa8\xa2\xa5\xe2", "Привет"},
		{"cp1251 cyrillic", 1251, "\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"},
		{"cp1252 euro", 1252, "\x80 5", "€ 5"},
		{"cp1250", 1250, "\x8a", "Š"},
		{"cp874 thai", 874, "\xa1", "ก"},
		{"shift-jis", 932, "\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", "こんにちは"},
		{"shift-jis with ascii", 932, "dir \x82\xb1\r\n", "dir こ\r\n"},
		{"gbk", 936, "\xc4\xe3\xba\xc3\xca\xc0\xbd\xe7", "你好世界"},
		{"euc-kr", 949, "\xbe\xc8\xb3\xe7\xc7\xcf\xbc\xbc\xbf\xe4", "안녕하세요"},
		{"big5", 950, "\xa7\x41\xa6\x6e\xa5\x40\xac\xc9", "你好世界"},
		{"utf-8 passes through", 65001, "héllo \xff", "héllo \xff"},
		{"unknown passes through", 12345, "a\x82\xff", "a\x82\xff"},
		{"empty", 437, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeAll(t, strings.NewReader(tt.in), tt.cp); got != tt.want {
				t.Errorf("whole: got %q, want %q", got, tt.want)
			}
			// A character cut between reads must come out whole.
			if got := decodeAll(t, iotest.OneByteReader(strings.NewReader(tt.in)), tt.cp); got != tt.want {
				t.Errorf("one byte per read: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCodePageKnown(t *testing.T) {
	for _, cp := range []uint32{437, 850, 852, 855, 866, 874, 932, 936, 949, 950, 1250, 1251, 1252} {
		if codePageEncoding(cp) == nil {
			t.Errorf("code page %d: no encoding", cp)
		}
	}
	for _, cp := range []uint32{0, cpUTF8, 1200, 99999} {
		if codePageEncoding(cp) != nil {
			t.Errorf("code page %d: want pass-through", cp)
		}
	}
}

// TestCodePageStreams checks that decoded text is handed on as it comes,
// not held back until the source ends: a command's output is live.
func TestCodePageStreams(t *testing.T) {
	pr, pw := io.Pipe()
	r := utf8Reader(pr, 866)
	go pw.Write([]byte("\x8f\xe0"))
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "Пр" {
		t.Fatalf("first read: %q, %v; want \"Пр\"", buf[:n], err)
	}
	pw.Close()
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("at the end: %d, %v; want 0, EOF", n, err)
	}
}

// TestCodePageTruncated checks that a stream ending inside a double-byte
// character still ends, with a replacement for the lone byte.
func TestCodePageTruncated(t *testing.T) {
	got := decodeAll(t, strings.NewReader("a\x82"), 932)
	if got != "a\ufffd" {
		t.Errorf("got %q, want %q", got, "a\ufffd")
	}
}

func decodeAll(t *testing.T, r io.Reader, cp uint32) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := io.Copy(&out, utf8Reader(r, cp)); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out.String()
}
