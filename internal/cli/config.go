// config.go: the commands' flags (one per setting), settings loading, exit
// codes for configuration errors, and the loggers.

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/settings"
)

// settingFlags registers one flag per setting on fs, named after the setting
// with dashes (max_clients -> --max-clients), plus --config.
type settingFlags struct {
	fs      *pflag.FlagSet
	config  *string
	aliases map[string]string // flag name -> setting name, for shortcuts like --seeds
	// args is the number of positional arguments the command takes (-1:
	// any number).
	args int
}

func newSettingFlags(name string, stdout, stderr io.Writer) *settingFlags {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	// Asked for with -h or --help (pflag calls Usage for nothing else when
	// errors continue): the flags go to standard output, as a pager or
	// grep expects.
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage of %s:\n", name)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	fs.SortFlags = false
	sf := &settingFlags{fs: fs, aliases: map[string]string{}}
	sf.config = fs.String("config", "", "YAML file of settings (keys are the setting names)")
	return sf
}

// alias adds a short flag for a setting (e.g. --seeds for seeds_file).
func (sf *settingFlags) alias(flag, setting, usage string) {
	sf.fs.String(flag, "", usage)
	sf.aliases[flag] = setting
}

// addSettings registers a flag for every setting after the command's own.
func (sf *settingFlags) addSettings() {
	d := settings.Defaults()
	for _, f := range settings.Fields() {
		usage := f.Doc
		if f.Derived != "" {
			usage += " (default: " + f.Derived + ")"
		}
		usage += " [$" + f.EnvVar() + "]"
		switch f.Type.Kind() {
		case reflect.String:
			sf.fs.String(f.Flag(), d.Value(f).(string), usage)
		case reflect.Bool:
			sf.fs.Bool(f.Flag(), d.Value(f).(bool), usage)
		case reflect.Int:
			sf.fs.Int(f.Flag(), d.Value(f).(int), usage)
		case reflect.Float64:
			sf.fs.Float64(f.Flag(), d.Value(f).(float64), usage)
		case reflect.Slice:
			sf.fs.StringArray(f.Flag(), d.Value(f).([]string), usage+" (repeat the flag for several)")
		case reflect.Int64:
			if f.Type == reflect.TypeOf(time.Duration(0)) {
				def := ""
				if f.Derived == "" {
					def = fmt.Sprint(d.Value(f).(time.Duration).Seconds())
				}
				sf.fs.String(f.Flag(), def, usage)
			} else {
				sf.fs.Int64(f.Flag(), d.Value(f).(int64), usage)
			}
		default:
			panic("settings field of unsupported kind: " + f.Name)
		}
	}
}

// flagError is a usage error for a failed parse of fs; for pflag's
// "unknown flag: --name" it names the closest flag fs has.
func flagError(fs *pflag.FlagSet, err error) error {
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		var names []string
		fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if best := settings.Closest(name, names); best != "" {
			return fmt.Errorf("%w: %v; did you mean --%s?", errUsage, err, best)
		}
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}

// parse parses args and loads the settings: defaults < --config <
// environment < flags. Errors wrap errUsage or settings.ErrInvalid.
func (sf *settingFlags) parse(args, environ []string) (*settings.Settings, error) {
	if err := sf.fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, flagError(sf.fs, err)
	}
	if sf.args >= 0 && sf.fs.NArg() > sf.args {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, sf.fs.Arg(sf.args))
	}
	if sf.args >= 0 && sf.fs.NArg() < sf.args {
		return nil, fmt.Errorf("%w: missing argument (run with --help)", errUsage)
	}
	flags := map[string]any{}
	var err error
	sf.fs.Visit(func(fl *pflag.Flag) {
		if fl.Name == "config" || err != nil {
			return
		}
		if setting, ok := sf.aliases[fl.Name]; ok {
			flags[setting] = fl.Value.String()
			return
		}
		name := strings.ReplaceAll(fl.Name, "-", "_")
		f, ok := settings.Lookup(name)
		if !ok {
			return // a command flag, not a setting
		}
		switch f.Type.Kind() {
		case reflect.Slice:
			flags[name], err = sf.fs.GetStringArray(fl.Name)
		default:
			flags[name] = fl.Value.String()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return settings.Load(settings.Source{ConfigFile: *sf.config, Environ: environ, Flags: flags})
}

// exitCode maps a configuration or usage error to exit code 2.
func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, settings.ErrInvalid) || errors.Is(err, curve.ErrKey) {
		return exitConfig
	}
	return exitFail
}

func configError(stderr io.Writer, err error) int {
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "spyder: %v\n", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
	return exitCode(err)
}

// newLogger builds the process logger: JSON on stderr, or the console
// writer when log_format says so or (auto) stderr is a terminal.
func newLogger(w io.Writer, format, level, role, identity string) zerolog.Logger {
	return newBusLogger(w, nil, format, level, role, identity)
}

// logOutput is where log records in JSON go for log_format: w itself,
// or a console writer rendering them for a person (console, or auto on a
// terminal). spyder node passes its children's JSON records through the
// same writer, so they read like its own.
func logOutput(w io.Writer, format string) io.Writer {
	if isConsole(w, format) {
		return zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return w
}

// isConsole reports whether records written to w are for a person to read:
// log_format console, or auto on a terminal.
func isConsole(w io.Writer, format string) bool {
	if format == "auto" {
		f, ok := w.(*os.File)
		return ok && isatty.IsTerminal(f.Fd())
	}
	return format == "console"
}

// logLevel is the zerolog level of a log_level_* setting (validated when
// the settings were loaded; info should it not parse).
func logLevel(level string) zerolog.Level {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil {
		return zerolog.InfoLevel
	}
	return lvl
}

// newBusLogger is newLogger that also sends every record to bus (a
// logsink publisher), when not nil.
func newBusLogger(w io.Writer, bus zerolog.LevelWriter, format, level, role, identity string) zerolog.Logger {
	lvl := logLevel(level)
	w = logOutput(w, format)
	if bus != nil {
		w = zerolog.MultiLevelWriter(w, bus)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("role", role).Str("id", identity).Logger()
}
