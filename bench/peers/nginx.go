// nginx.go: the HTTP server every crawler fetches from, and its access
// log, which is the one account of what each crawler requested and when.

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is an nginx serving one or more generated sites.
type server struct {
	dir string
	cmd *exec.Cmd
	log string // access log
}

// startNginx serves every site's directory on its addresses and port
// (the root of a request is dir/<the address it came to>). nginx runs in
// the foreground as this process's child, with everything in dir.
func startNginx(dir string, sites ...*site) (*server, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			return nil, fmt.Errorf("nginx not found (apt-get install nginx-light): %w", err)
		}
		bin = "/usr/sbin/nginx"
	}
	var listens strings.Builder
	for _, s := range sites {
		for _, a := range s.addrs {
			fmt.Fprintf(&listens, "    listen %s:%d;\n", a, s.port)
		}
	}
	root := sites[0].dir
	for _, s := range sites[1:] {
		if s.dir != root {
			return nil, errors.New("startNginx: every site must be generated under one directory")
		}
	}
	srv := &server{dir: dir, log: filepath.Join(dir, "access.log")}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  log_format peers '$msec $request_time $server_addr $status $body_bytes_sent "$request_uri"';
  access_log %[2]s peers;
  client_body_temp_path %[1]s/tmp-body;
  proxy_temp_path %[1]s/tmp-proxy;
  fastcgi_temp_path %[1]s/tmp-fastcgi;
  uwsgi_temp_path %[1]s/tmp-uwsgi;
  scgi_temp_path %[1]s/tmp-scgi;
  types { text/html html; text/plain txt; }
  default_type text/html;
  sendfile on;
  keepalive_requests 100000;
  server {
%[3]s    root %[4]s/$server_addr;
    index index.html;
  }
}
`, dir, srv.log, listens.String(), root)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("writing nginx.conf: %w", err)
	}
	srv.cmd = exec.Command(bin, "-c", confFile, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	srv.cmd.Stderr = os.Stderr
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := srv.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	// Ready when every address answers.
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range sites {
		for _, a := range s.addrs {
			for {
				c, err := net.DialTimeout("tcp", net.JoinHostPort(a, strconv.Itoa(s.port)), time.Second)
				if err == nil {
					c.Close()
					break
				}
				if time.Now().After(deadline) {
					srv.stop()
					return nil, fmt.Errorf("nginx did not listen on %s:%d within 10 s (see %s/error.log): %w", a, s.port, dir, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	// The readiness probes made no requests, so the log is still empty;
	// logOffset starts each run's share of it.
	return srv, nil
}

// stop ends nginx (its whole process group) and waits for it.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// logOffset is the access log's current size: a run's requests are the
// lines written after it.
func (s *server) logOffset() (int64, error) {
	fi, err := os.Stat(s.log)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the access log: %w", err)
	}
	return fi.Size(), nil
}

// request is one access-log line.
type request struct {
	start  time.Time // when nginx began reading it ($msec − $request_time)
	addr   string
	status int
	bytes  int64
	uri    string
}

// requestsSince reads the log lines written after offset. nginx writes a
// line when a request ends, so it is read after the crawler exited.
func (s *server) requestsSince(offset int64) ([]request, error) {
	f, err := os.Open(s.log)
	if err != nil {
		return nil, fmt.Errorf("reading the access log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, fmt.Errorf("reading the access log: %w", err)
	}
	var out []request
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r, err := parseLogLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// parseLogLine reads `$msec $request_time $server_addr $status
// $body_bytes_sent "$request_uri"`.
func parseLogLine(line []byte) (request, error) {
	f := bytes.SplitN(line, []byte(" "), 6)
	if len(f) != 6 {
		return request{}, fmt.Errorf("line %q: want 6 fields", line)
	}
	msec, err1 := strconv.ParseFloat(string(f[0]), 64)
	took, err2 := strconv.ParseFloat(string(f[1]), 64)
	status, err3 := strconv.Atoi(string(f[3]))
	size, err4 := strconv.ParseInt(string(f[4]), 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return request{}, fmt.Errorf("line %q: %w", line, err)
	}
	startMs := int64(msec*1000+0.5) - int64(took*1000+0.5)
	return request{
		start:  time.UnixMilli(startMs),
		addr:   string(f[2]),
		status: status,
		bytes:  size,
		uri:    strings.Trim(string(f[5]), `"`),
	}, nil
}
