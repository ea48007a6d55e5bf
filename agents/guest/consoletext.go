package guest

import (
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// consoleText decodes a Windows command's output to UTF-8, line by line.
// One stream may hold both encodings: cmd.exe writes in the console's
// code page, a program built for UTF-8 (git, Go, Rust, Node) writes
// UTF-8 whatever the code page, and `chcp 65001` switches mid-stream. So
// text that is valid UTF-8 is taken as UTF-8, and the rest is decoded in
// the code page. The choice is made for a line, not for each byte: in a
// code page, two legacy characters can look like one UTF-8 character
// (cp437's "═╗" is the bytes of "ͻ"), so once a line has shown a byte
// that is not UTF-8, the rest of it is the code page's; a line that has
// shown UTF-8 stays UTF-8, with only its stray bytes decoded in the code
// page. A UTF-8 character split between reads is held until it is whole.
type consoleText struct {
	legacy encoding.Encoding // nil: stray bytes pass through unchanged
	mode   lineMode
}

type lineMode int

const (
	undecided lineMode = iota // only ASCII so far in this line
	lineUTF8
	lineLegacy
)

func newConsoleText(legacy encoding.Encoding) *consoleText {
	return &consoleText{legacy: legacy}
}

func (c *consoleText) Reset() { c.mode = undecided }

func (c *consoleText) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		b := src[nSrc]
		if b < utf8.RuneSelf {
			if nDst == len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = b
			nDst++
			nSrc++
			if b == '\n' {
				c.mode = undecided
			}
			continue
		}
		var nd, ns int
		if c.mode == lineLegacy {
			nd, ns, err = c.decodeLegacy(dst[nDst:], src[nSrc:], atEOF)
		} else {
			nd, ns, err = c.decodeUTF8(dst[nDst:], src[nSrc:], atEOF)
		}
		nDst += nd
		nSrc += ns
		if err != nil {
			return nDst, nSrc, err
		}
	}
	return nDst, nSrc, nil
}

// decodeUTF8 takes the character at src[0] as UTF-8 if it is, and
// switches an undecided line to the code page if it is not.
func (c *consoleText) decodeUTF8(dst, src []byte, atEOF bool) (int, int, error) {
	if !atEOF && !utf8.FullRune(src) {
		return 0, 0, transform.ErrShortSrc // may be UTF-8 once whole
	}
	r, size := utf8.DecodeRune(src)
	if r == utf8.RuneError && size <= 1 {
		if c.mode == undecided {
			c.mode = lineLegacy
		}
		return c.decodeLegacy(dst, src, atEOF)
	}
	if len(dst) < size {
		return 0, 0, transform.ErrShortDst
	}
	c.mode = lineUTF8
	return copy(dst, src[:size]), size, nil
}

// decodeLegacy decodes the one character at src[0] in the code page.
func (c *consoleText) decodeLegacy(dst, src []byte, atEOF bool) (int, int, error) {
	if c.legacy == nil {
		if len(dst) == 0 {
			return 0, 0, transform.ErrShortDst
		}
		dst[0] = src[0]
		return 1, 1, nil
	}
	n := 1
	var probe [utf8.UTFMax * 2]byte
	dec := c.legacy.NewDecoder()
	if _, _, err := dec.Transform(probe[:], src[:1], false); err == transform.ErrShortSrc {
		n = 2 // a lead byte of a double-byte code page
		if len(src) < 2 {
			if !atEOF {
				return 0, 0, transform.ErrShortSrc
			}
			n = 1
		}
	}
	dec.Reset()
	nd, ns, err := dec.Transform(dst, src[:n], true)
	if err == transform.ErrShortDst || (err == nil && ns == 0) {
		return 0, 0, transform.ErrShortDst
	}
	if err != nil {
		// Not decodable: a replacement, so that the stream goes on.
		if len(dst) < utf8.RuneLen(utf8.RuneError) {
			return 0, 0, transform.ErrShortDst
		}
		return utf8.EncodeRune(dst, utf8.RuneError), 1, nil
	}
	return nd, ns, nil
}
