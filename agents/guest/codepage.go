package guest

import (
	"io"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/transform"
)

// cpUTF8 is Windows' code page number for UTF-8.
const cpUTF8 = 65001

// utf8Reader decodes r, a Windows command's output, to UTF-8 as it
// streams: what is valid UTF-8 stays, the rest is read as text in the
// Windows code page codePage (see consoleText). A character split across
// reads is decoded once its last byte has come.
//
// Bytes that are not UTF-8 in a code page this table lacks pass through
// unchanged: guessing would garble text for good, while raw bytes keep
// ASCII readable and can still be decoded on the host by someone who
// knows the code page.
func utf8Reader(r io.Reader, codePage uint32) io.Reader {
	return transform.NewReader(r, newConsoleText(codePageEncoding(codePage)))
}

// codePageEncoding returns the encoding of a Windows code page, or nil for
// UTF-8 and for code pages it does not know.
func codePageEncoding(cp uint32) encoding.Encoding {
	if e := oemEncoding(cp); e != nil {
		return e
	}
	if e := ansiEncoding(cp); e != nil {
		return e
	}
	return eastAsianEncoding(cp)
}

// oemEncoding covers the OEM (DOS) code pages, which consoles use.
func oemEncoding(cp uint32) encoding.Encoding {
	switch cp {
	case 437:
		return charmap.CodePage437
	case 850:
		return charmap.CodePage850
	case 852:
		return charmap.CodePage852
	case 855:
		return charmap.CodePage855
	case 858:
		return charmap.CodePage858
	case 860:
		return charmap.CodePage860
	case 862:
		return charmap.CodePage862
	case 863:
		return charmap.CodePage863
	case 865:
		return charmap.CodePage865
	case 866:
		return charmap.CodePage866
	}
	return nil
}

// ansiEncoding covers the Windows (ANSI) single-byte code pages and the
// other single-byte ones a console may be switched to with chcp.
func ansiEncoding(cp uint32) encoding.Encoding {
	switch cp {
	case 874:
		return charmap.Windows874
	case 1250:
		return charmap.Windows1250
	case 1251:
		return charmap.Windows1251
	case 1252:
		return charmap.Windows1252
	case 1253:
		return charmap.Windows1253
	case 1254:
		return charmap.Windows1254
	case 1255:
		return charmap.Windows1255
	case 1256:
		return charmap.Windows1256
	case 1257:
		return charmap.Windows1257
	case 1258:
		return charmap.Windows1258
	case 10000:
		return charmap.Macintosh
	case 10007:
		return charmap.MacintoshCyrillic
	case 20866:
		return charmap.KOI8R
	case 21866:
		return charmap.KOI8U
	case 28591:
		return charmap.ISO8859_1
	case 28592:
		return charmap.ISO8859_2
	case 28595:
		return charmap.ISO8859_5
	}
	return nil
}

// eastAsianEncoding covers the double-byte code pages.
func eastAsianEncoding(cp uint32) encoding.Encoding {
	switch cp {
	case 932:
		return japanese.ShiftJIS // x/text: "also known as Code Page 932"
	case 936:
		return simplifiedchinese.GBK
	case 949:
		return korean.EUCKR // x/text: "also known as Code Page 949"
	case 950:
		return traditionalchinese.Big5
	case 54936:
		return simplifiedchinese.GB18030
	}
	return nil
}
