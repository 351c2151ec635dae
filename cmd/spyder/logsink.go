package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/zsock"
)

// `spyder logsink` is spyder's logsink: it binds zeromq_logging, receives
// the log records of every master and worker configured with the same
// address (topic spyder.<role>.<LEVEL>), and writes them per role to
// DIR/master.log, DIR/worker.log (and DIR/node.log), rotated by size.

func runLogsink(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder logsink", stdout, stderr)
	dir := sf.fs.String("dir", "log", "directory of the per-role log files")
	maxSize := sf.fs.Int64("max-size", 64<<20, "bytes after which a log file is rotated (role.log -> role.log.1 -> ...)")
	keep := sf.fs.Int("keep", 5, "rotated files kept per role")
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	if s.ZeromqLogging == "" {
		return configError(stderr, fmt.Errorf("%w: zeromq_logging is not set: give the address to bind (e.g. --zeromq-logging tcp://127.0.0.1:5554) and the same to masters and workers", errUsage))
	}
	if *maxSize < 1024 || *keep < 1 {
		return configError(stderr, fmt.Errorf("%w: --max-size must be at least 1024 and --keep at least 1", errUsage))
	}
	log := newLogger(stderr, s.LogFormat, s.LogLevelMaster, "logsink", crawluri.Identity("logsink"))
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fail(stderr, fmt.Errorf("creating %s: %w", *dir, err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	zctx, err := zmq.NewContext()
	if err != nil {
		return fail(stderr, err)
	}
	defer zctx.Term()
	sub, err := zsock.New(zctx, zmq.SUB, 0)
	if err != nil {
		return fail(stderr, err)
	}
	defer sub.Close()
	if err := sub.SetSubscribe("spyder."); err != nil {
		return fail(stderr, err)
	}
	if err := sub.Bind(s.ZeromqLogging); err != nil {
		return fail(stderr, fmt.Errorf("binding zeromq_logging %s: %w", s.ZeromqLogging, err))
	}
	files := map[string]*rotatingFile{}
	defer func() {
		for _, f := range files {
			f.close()
		}
	}()
	log.Info().Str("event", "SPYDER:LOGSINK_READY").Str("bind", s.ZeromqLogging).Str("dir", *dir).Msg("logsink started")
	poller := zmq.NewPoller()
	poller.Add(sub, zmq.POLLIN)
	var received, dropped int64
	for ctx.Err() == nil {
		if _, err := poller.Poll(200 * time.Millisecond); err != nil && ctx.Err() == nil && !zsock.IsAgain(err) {
			if errors.Is(err, zmq.Errno(syscall.EINTR)) {
				continue
			}
			return fail(stderr, fmt.Errorf("polling: %w", err))
		}
		for {
			frames, err := zsock.TryRecv(sub)
			if err != nil || frames == nil {
				break
			}
			role, ok := logRole(frames)
			if !ok {
				dropped++
				continue
			}
			f := files[role]
			if f == nil {
				f = &rotatingFile{path: filepath.Join(*dir, role+".log"), max: *maxSize, keep: *keep}
				files[role] = f
			}
			if err := f.write(frames[1]); err != nil {
				log.Error().Err(err).Str("file", f.path).Msg("writing a log record failed")
			}
			received++
		}
		for _, f := range files {
			f.flush()
		}
	}
	log.Info().Str("event", "SPYDER:LOGSINK_DOWN").Int64("records", received).Int64("dropped", dropped).Msg("logsink stopped")
	return exitOK
}

// logRole checks a message [spyder.<role>.<LEVEL>, record] and returns
// the role, which names the file: only known roles, so that a stranger's
// topic cannot choose a path.
func logRole(frames [][]byte) (string, bool) {
	if len(frames) != 2 {
		return "", false
	}
	parts := strings.Split(string(frames[0]), ".")
	if len(parts) < 3 || parts[0] != "spyder" {
		return "", false
	}
	switch parts[1] {
	case crawluri.RoleMaster, crawluri.RoleWorker, "node":
		return parts[1], true
	}
	return "", false
}

// rotatingFile appends records to path and rotates it by size.
type rotatingFile struct {
	path string
	max  int64
	keep int
	f    *os.File
	buf  bytes.Buffer
	size int64
}

func (r *rotatingFile) write(rec []byte) error {
	if r.f == nil {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		r.f, r.size = f, st.Size()
	}
	n := int64(len(rec))
	if !bytes.HasSuffix(rec, []byte("\n")) {
		n++
	}
	if pending := r.size + int64(r.buf.Len()); pending > 0 && pending+n > r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	r.buf.Write(rec)
	if !bytes.HasSuffix(rec, []byte("\n")) {
		r.buf.WriteByte('\n')
	}
	return nil
}

// rotate moves role.log to role.log.1 (and .1 to .2, ...), keeping keep.
func (r *rotatingFile) rotate() error {
	if err := r.flush(); err != nil {
		return err
	}
	r.f.Close()
	r.f = nil
	for i := r.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("rotating %s: %w", r.path, err)
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.f, r.size = f, 0
	return nil
}

func (r *rotatingFile) flush() error {
	if r.f == nil || r.buf.Len() == 0 {
		return nil
	}
	n, err := r.f.Write(r.buf.Bytes())
	r.size += int64(n)
	r.buf.Reset()
	return err
}

func (r *rotatingFile) close() {
	r.flush()
	if r.f != nil {
		r.f.Close()
	}
}
