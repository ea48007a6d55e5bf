// Package fdcopy copies a command's input and output: from a file without
// stealing bytes from whoever reads that file next, and to a writer that
// may go away.
package fdcopy

import (
	"errors"
	"io"
)

// Copy copies src to dst until src ends, with buf, and says which side
// failed: a writer that fails (a reader gone away) calls for other
// handling than a source that fails. It never uses ReadFrom or WriteTo,
// which hide the side.
func Copy(dst io.Writer, src io.Reader, buf []byte) (writeFailed bool, err error) {
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return true, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return false, nil
		}
		if rerr != nil {
			return false, rerr
		}
	}
}
