package dockertest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// ExecsSince counts the Engine execs created in the container name since
// from, by the Engine's events: how a test sees whether a command went
// through the Engine's exec or not.
func ExecsSince(t testing.TB, name string, from time.Time) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stamp := func(tm time.Time) string { return fmt.Sprintf("%d.%09d", tm.Unix(), tm.Nanosecond()) }
	res := Client(t).Events(ctx, client.EventsListOptions{
		Since:   stamp(from),
		Until:   stamp(time.Now()),
		Filters: make(client.Filters).Add("container", name).Add("type", "container"),
	})
	n := 0
	for {
		select {
		case m := <-res.Messages:
			if strings.HasPrefix(string(m.Action), "exec_create") {
				n++
			}
		case err := <-res.Err:
			if err != nil && err != io.EOF {
				t.Fatalf("engine events: %v", err)
			}
			return n
		}
	}
}
