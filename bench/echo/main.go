// Command spirit-echo is the raw peer of spirit's guest agent in the
// bench variant of the demo guest (scripts/guest.sh --bench): it serves
// the virtio-serial port spirit.echo with no protocol to speak of, so
// that the bench can time the port itself. Every byte the host sends
// comes back, except 'z': the 8 bytes after it are a big-endian count,
// and that many zero bytes come back instead (the raw stream).
//
// It is not a tool: it runs in the guest, started by its /init.
//
//	spirit-echo /dev/vport1p2
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: spirit-echo PORT")
		os.Exit(2)
	}
	f, err := os.OpenFile(os.Args[1], os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spirit-echo:", err)
		os.Exit(1)
	}
	if err := serve(f); err != nil {
		fmt.Fprintln(os.Stderr, "spirit-echo:", err)
		os.Exit(1)
	}
}

// serve echoes f to itself for as long as it can be read. A
// virtio-serial port reads 0 bytes at once while no host is connected:
// then it waits a moment and reads again.
func serve(f *os.File) error {
	buf := make([]byte, 256<<10)
	zeros := make([]byte, 256<<10)
	for {
		n, err := f.Read(buf)
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		in := buf[:n]
		for len(in) > 0 {
			i := 0
			for i < len(in) && in[i] != 'z' {
				i++
			}
			if i > 0 {
				if _, err := f.Write(in[:i]); err != nil {
					break // the host left: wait for the next
				}
			}
			if i == len(in) {
				break
			}
			// 'z' and its count, which may straddle reads.
			var count [8]byte
			got := copy(count[:], in[i+1:])
			in = in[i+1+got:]
			if got < 8 {
				if _, err := io.ReadFull(f, count[got:]); err != nil {
					break
				}
			}
			left := int64(binary.BigEndian.Uint64(count[:]))
			for left > 0 {
				m, err := f.Write(zeros[:min(int64(len(zeros)), left)])
				if err != nil {
					break
				}
				left -= int64(m)
			}
		}
	}
}
