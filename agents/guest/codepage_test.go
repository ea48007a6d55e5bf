package guest

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
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
		// A stream is UTF-8 where it is valid UTF-8 (programs built
		// for UTF-8, chcp 65001), the code page elsewhere.
		{"utf-8 program", 437, "caf\xc3\xa9 \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n", "café Привет\r\n"},
		{"utf-8 program, code page 1252", 1252, "caf\xc3\xa9\n", "café\n"},
		{"chcp 65001 mid-stream", 850, "caf\x82\r\nActive code page: 65001\r\ncaf\xc3\xa9 \xd0\x9f\r\n", "café\r\nActive code page: 65001\r\ncafé П\r\n"},
		{"utf-8 then the code page", 850, "\xd0\x9f\r\ncaf\x82\r\n", "П\r\ncafé\r\n"},
		// "─┐" alone is the bytes of "Ŀ"; a box's lines start with a
		// byte that UTF-8 does not have there.
		{"box drawing with pairs that look like utf-8", 437, "\xda\xc4\xbf\r\n\xb3 \xb3\r\n\xc0\xc4\xd9\r\n", "┌─┐\r\n│ │\r\n└─┘\r\n"},
		{"a stray byte in a utf-8 line", 437, "\xd0\x9f \x82\n", "П é\n"},
		{"a code page line stays so", 437, "caf\x82 \xc3\xa9\n", "café ├⌐\n"},
		{"cut utf-8 at the end", 437, "a\xd0", "a╨"},
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

// FuzzConsoleText: whatever a command writes, the decoded text is the
// same however it was cut into reads, and valid UTF-8 when the code page
// is known.
func FuzzConsoleText(f *testing.F) {
	for _, s := range []string{"caf\x82\r\n", "caf\xc3\xa9\n\xd0", "\x82\xb1\x82", "\xda\xc4\xbf\r\n\xb3", ""} {
		f.Add([]byte(s), uint16(437))
		f.Add([]byte(s), uint16(932))
	}
	f.Fuzz(func(t *testing.T, b []byte, cp uint16) {
		whole := decodeAll(t, bytes.NewReader(b), uint32(cp))
		cut := decodeAll(t, iotest.OneByteReader(bytes.NewReader(b)), uint32(cp))
		if whole != cut {
			t.Fatalf("%q: whole %q, one byte per read %q", b, whole, cut)
		}
		if codePageEncoding(uint32(cp)) != nil && !utf8.ValidString(whole) {
			t.Fatalf("%q in code page %d: %q is not UTF-8", b, cp, whole)
		}
	})
}
