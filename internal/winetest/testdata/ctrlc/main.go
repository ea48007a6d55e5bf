// Command ctrlc is a Windows program for the Wine lane that ends on a
// console's Ctrl-C as a careful program does: it says so, saves, and
// exits with Ctrl-C's status (STATUS_CONTROL_C_EXIT). With -ignore it
// ignores Ctrl-C, and only a kill ends it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	ignore := flag.Bool("ignore", false, "ignore Ctrl-C")
	flag.Parse()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	fmt.Println("started")
	for {
		select {
		case <-ch:
			if *ignore {
				fmt.Println("ignored a Ctrl-C")
				continue
			}
			fmt.Println("got Ctrl-C: saved my work")
			os.Exit(0xC000013A)
		case <-time.After(time.Minute):
			fmt.Println("no Ctrl-C came")
			os.Exit(3)
		}
	}
}
