// logsink.go: spyder logsink, the collector of log records published on
// the log bus (zeromq_logging) into per-role rotated files.

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/logbus"
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
	files := map[string]*logbus.RotatingFile{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	log.Info().Stringer("event", events.LogsinkReady).Str("bind", s.ZeromqLogging).Str("dir", *dir).Msg("logsink started")
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
			role, ok := logbus.Role(frames)
			if !ok {
				dropped++
				continue
			}
			f := files[role]
			if f == nil {
				f = logbus.NewRotatingFile(filepath.Join(*dir, role+".log"), *maxSize, *keep)
				files[role] = f
			}
			if err := f.Write(frames[1]); err != nil {
				log.Error().Err(err).Str("role", role).Msg("writing a log record failed")
			}
			received++
		}
		for _, f := range files {
			f.Flush()
		}
	}
	log.Info().Stringer("event", events.LogsinkDown).Int64("records", received).Int64("dropped", dropped).Msg("logsink stopped")
	return exitOK
}
