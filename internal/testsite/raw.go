// raw.go: a server that answers with bytes given as they are, for tests of
// what a crawler records of a response net/http would never send (HTTP/1.0,
// header case and order, hand-made chunking).

package testsite

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
)

// RawServer answers each request with the bytes its respond function gives
// for the request's path, exactly as given, and keeps the requests' heads
// as they came. A connection serves requests until the client closes it or
// respond says to close it (a response without a length ends so).
type RawServer struct {
	ln       net.Listener
	mu       sync.Mutex
	requests [][]byte
	wg       sync.WaitGroup
}

// StartRawServer serves on a free port of 127.0.0.1 until the test ends.
func StartRawServer(t testing.TB, respond func(path string) (reply []byte, close bool)) *RawServer {
	return StartRawServerOn(t, "127.0.0.1", respond)
}

// StartRawServerOn is StartRawServer on the loopback address ip.
func StartRawServerOn(t testing.TB, ip string, respond func(path string) (reply []byte, close bool)) *RawServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &RawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				s.serve(conn, respond)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *RawServer) serve(conn net.Conn, respond func(string) ([]byte, bool)) {
	br := bufio.NewReader(conn)
	for {
		var head bytes.Buffer
		for {
			line, err := br.ReadBytes('\n')
			head.Write(line)
			if err != nil {
				return
			}
			if string(line) == "\r\n" {
				break
			}
		}
		fields := strings.Fields(head.String())
		if len(fields) < 2 {
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, head.Bytes())
		s.mu.Unlock()
		reply, closeConn := respond(fields[1])
		if _, err := conn.Write(reply); err != nil || closeConn {
			return
		}
	}
}

// URL is the address of path on the server.
func (s *RawServer) URL(path string) string { return "http://" + s.ln.Addr().String() + path }

// Request is the head of the i-th request, as it came.
func (s *RawServer) Request(i int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[i]
}

// Requests is how many requests came.
func (s *RawServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}
