package standin

import (
	"errors"
	"fmt"
	"strings"
)

// cmdQuoteWords joins words that bash has expanded into text for cmd.exe
// (cmd /c) that gives each program back the same words: the words of a
// dynamic target word ($t) bound for a Windows guest.
//
// Two parsers read the text. cmd.exe first expands %NAME% anywhere, then
// takes ^ as an escape and " as a quote that turns its specials off; the
// program then splits its command line by the rules of
// CommandLineToArgvW. So each word is quoted for the program (argvQuote),
// then every cmd.exe special in that, the quotes included, is escaped
// with ^: cmd.exe then never stands inside a quote, removes every ^ and
// hands the program its quoted word. A % is also followed by an escaped
// character, so that no %NAME% that cmd.exe could expand is left: the
// name always starts with ^, which no variable's does. A word that only
// its blanks make quoted is put between plain quotes instead, which
// cmd.exe reads as the program does: this is what keeps the blanks of
// the command's own name together, since cmd.exe finds the program by its
// first word before it splits arguments. This assumes delayed expansion
// off (cmd /v:off), where ! is an ordinary character.
func cmdQuoteWords(words []string) (string, error) {
	out := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, "\x00\r\n") {
			return "", fmt.Errorf("word %q: %w", w, errCmdLine)
		}
		q := argvQuote(w)
		if strings.ContainsAny(w, cmdSpecials) {
			out[i] = cmdEscape(q)
		} else {
			out[i] = q // at most blanks, which cmd.exe's quotes keep too
		}
	}
	return strings.Join(out, " "), nil
}

// errCmdLine is a word that cmd.exe cannot be given: it runs only the
// first line of its text, and a NUL ends the text.
var errCmdLine = errors.New("cmd.exe cannot be given a line break or a NUL in a word (it runs the first line only)")

// argvQuote quotes s for CommandLineToArgvW (and the C runtime's
// parser): in double quotes when it is empty or has a blank or a quote,
// with the backslashes before a quote doubled and the quote escaped.
func argvQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	b.WriteString(strings.Repeat(`\`, slashes)) // doubled before the closing quote
	b.WriteByte('"')
	return b.String()
}

// cmdSpecials are the characters cmd.exe's parser acts on outside quotes.
const cmdSpecials = `"^&|<>()%!`

// cmdEscape escapes every cmd.exe special of s with ^, and the character
// after each % (see cmdQuoteWords).
func cmdEscape(s string) string {
	var b strings.Builder
	afterPercent := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if afterPercent || strings.IndexByte(cmdSpecials, c) >= 0 {
			b.WriteByte('^')
		}
		b.WriteByte(c)
		afterPercent = c == '%'
	}
	return b.String()
}

// windowsPath is a redirection's path to a Windows target, taken from
// its text as typed: cmd.exe's double quotes group it and are not part
// of any file's name; nothing else is an escape.
func windowsPath(typed string) string {
	return strings.ReplaceAll(typed, `"`, "")
}
