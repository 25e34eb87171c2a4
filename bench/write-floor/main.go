// write-floor measures what the kernel charges for one small write to each of many loopback TCP
// sockets: the least any server on this machine can spend to send one update to each recipient.
// It opens -sockets connected pairs, then in each of -rounds rounds writes -bytes bytes to every
// server-side socket in one burst, timing the burst and the process's user and system CPU in it.
// The client sides are read after each burst, never during it. Prints one JSON object.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

type round struct {
	Ms     float64 `json:"ms"`
	UserMs float64 `json:"userMs"`
	SysMs  float64 `json:"sysMs"`
}

func cpuMs() (user, sys float64) {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0, 0
	}
	ms := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e3 + float64(t.Usec)/1e3 }
	return ms(u.Utime), ms(u.Stime)
}

func main() {
	sockets := flag.Int("sockets", 5000, "connected loopback TCP pairs")
	rounds := flag.Int("rounds", 20, "bursts, one write to every socket each")
	size := flag.Int("bytes", 150, "bytes per write (about one update frame)")
	flag.Parse()
	if err := run(*sockets, *rounds, *size); err != nil {
		fmt.Fprintf(os.Stderr, "write-floor: %v\n", err)
		os.Exit(1)
	}
}

func run(sockets, rounds, size int) error {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer listener.Close()
	servers := make([]*net.TCPConn, 0, sockets)
	clients := make([]net.Conn, 0, sockets)
	defer func() {
		for _, c := range servers {
			c.Close()
		}
		for _, c := range clients {
			c.Close()
		}
	}()
	for range sockets {
		client, err := net.Dial("tcp", listener.Addr().String())
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		clients = append(clients, client)
		server, err := listener.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		servers = append(servers, server.(*net.TCPConn))
	}
	out := make([]byte, size)
	for i := range out {
		out[i] = 'x'
	}
	in := make([]byte, size)
	result := struct {
		Sockets int     `json:"sockets"`
		Bytes   int     `json:"bytes"`
		Rounds  []round `json:"rounds"`
	}{Sockets: sockets, Bytes: size}
	for range rounds {
		user0, sys0 := cpuMs()
		start := time.Now()
		for _, c := range servers {
			if _, err := c.Write(out); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		elapsed := time.Since(start)
		user1, sys1 := cpuMs()
		result.Rounds = append(result.Rounds, round{
			Ms:     float64(elapsed.Microseconds()) / 1e3,
			UserMs: user1 - user0,
			SysMs:  sys1 - sys0,
		})
		for _, c := range clients {
			if _, err := io.ReadFull(c, in); err != nil {
				return fmt.Errorf("read: %w", err)
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}
