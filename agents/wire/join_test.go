package wire

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// joinRecorder records each Write.
type joinRecorder struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *joinRecorder) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, slices.Clone(p))
	return len(p), nil
}

func (c *joinRecorder) Close() error { return nil }

func (c *joinRecorder) got() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes)
}

func muxHeader(typ byte, length int) []byte {
	h := make([]byte, muxHeaderLen)
	h[1] = typ
	binary.BigEndian.PutUint32(h[4:], 3) // stream ID
	binary.BigEndian.PutUint32(h[8:], uint32(length))
	return h
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestBufConnJoinsFrames(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100)
	big := make([]byte, maxJoined+1)
	const typeWindowUpdate = 1
	ack := muxHeader(typeWindowUpdate, 0)
	ack[3] = muxFlagACK
	syn := muxHeader(typeWindowUpdate, 0)
	syn[3] = muxFlagSYN
	fin := muxHeader(typeWindowUpdate, 0)
	fin[3] = muxFlagFIN
	wu := muxHeader(typeWindowUpdate, 0)
	tests := []struct {
		name   string
		writes [][]byte
		close  bool
		want   [][]byte // once holdFor has passed
	}{
		{name: "data frame", writes: [][]byte{muxHeader(muxTypeData, 100), body},
			want: [][]byte{join(muxHeader(muxTypeData, 100), body)}},
		{name: "a stream's opening goes with the next data frame", writes: [][]byte{syn, muxHeader(muxTypeData, 100), body},
			want: [][]byte{join(syn, muxHeader(muxTypeData, 100), body)}},
		{name: "an ACK goes with the answer", writes: [][]byte{ack, ack, muxHeader(muxTypeData, 100), body},
			want: [][]byte{join(ack, ack, muxHeader(muxTypeData, 100), body)}},
		{name: "an ACK alone goes after a moment", writes: [][]byte{ack},
			want: [][]byte{ack}},
		{name: "a stream's end goes at once, with what is held", writes: [][]byte{ack, fin},
			want: [][]byte{join(ack, fin)}},
		{name: "a window update goes at once", writes: [][]byte{wu}, want: [][]byte{wu}},
		{name: "a body too large to copy", writes: [][]byte{muxHeader(muxTypeData, len(big)), big},
			want: [][]byte{muxHeader(muxTypeData, len(big)), big}},
		{name: "not its body", writes: [][]byte{muxHeader(muxTypeData, 100), ack},
			want: [][]byte{muxHeader(muxTypeData, 100), ack}},
		{name: "two frames", writes: [][]byte{muxHeader(muxTypeData, 100), body, muxHeader(muxTypeData, 1), {'y'}},
			want: [][]byte{join(muxHeader(muxTypeData, 100), body), join(muxHeader(muxTypeData, 1), []byte{'y'})}},
		{name: "close writes what is held", writes: [][]byte{syn, ack}, close: true,
			want: [][]byte{join(syn, ack)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &joinRecorder{}
			c := &bufConn{Conn: rc}
			for _, w := range tt.writes {
				n, err := c.Write(w)
				if err != nil || n != len(w) {
					t.Fatalf("Write(%d bytes) = %d, %v", len(w), n, err)
				}
			}
			if tt.close {
				c.Close()
			}
			deadline := time.Now().Add(5 * time.Second)
			for !slices.EqualFunc(rc.got(), tt.want, bytes.Equal) {
				if time.Now().After(deadline) {
					t.Fatalf("writes of %v bytes, want %v", lens(rc.got()), lens(tt.want))
				}
				time.Sleep(holdFor)
			}
		})
	}
}

func lens(b [][]byte) []int {
	var n []int
	for _, p := range b {
		n = append(n, len(p))
	}
	return n
}
