// Command pause is the sandbox container of the local Kubernetes node's pods: it holds the pod's
// namespaces open, does nothing else, and as PID 1 reaps the orphans that are reparented to it.
// It exits with status 0 on SIGINT or SIGTERM, like the upstream pause image.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is what -v prints, matching the image tag the build gives it.
const version = "3.10"

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "-v" || os.Args[1] == "--version" {
			fmt.Printf("pause %s (jobchannel)\n", version)
			return
		}
		fmt.Fprintf(os.Stderr, "usage: pause [-v]\n")
		os.Exit(2)
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1, orphans are not reaped here")
	}

	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", sig)
		os.Exit(0)
	}
}

// reap collects every child that has exited. SIGCHLD is not queued, so one signal may stand for
// several exits: wait until no exited child is left.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
