// load.go: the settings' fields, and loading them from defaults, a config
// file, SPYDER_* variables and flags.

package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts every environment variable that sets a setting.
const EnvPrefix = "SPYDER_"

// ErrInvalid is wrapped by every configuration error, so callers can tell a
// bad configuration (exit code 2) from a runtime failure.
var ErrInvalid = errors.New("invalid configuration")

// Field describes one setting.
type Field struct {
	Name    string       // the setting's name, e.g. "max_clients"
	Doc     string       // one-line meaning
	Type    reflect.Type // Go type of the value
	Default any          // built-in default (nil for derived settings)
	Derived string       // the setting this one follows unless set, or ""
	Secret  bool         // a password or key: printed only when it names a file
	// Path is "file" for a setting that names a file or directory, "key"
	// for one that names a key file or holds the key itself, else "". A
	// relative path in a config file is relative to that file's directory.
	Path  string
	index int
}

// Flag is the command-line flag of the setting: its name with dashes.
func (f Field) Flag() string { return strings.ReplaceAll(f.Name, "_", "-") }

// EnvVar is the environment variable of the setting.
func (f Field) EnvVar() string { return EnvPrefix + strings.ToUpper(f.Name) }

var fields = buildFields()

func buildFields() []Field {
	t := reflect.TypeOf(Settings{})
	def := reflect.ValueOf(Defaults())
	out := make([]Field, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Tag.Get("koanf") == "" {
			continue
		}
		f := Field{Name: sf.Tag.Get("koanf"), Doc: sf.Tag.Get("doc"), Type: sf.Type, index: i, Derived: derived[sf.Tag.Get("koanf")], Secret: sf.Tag.Get("secret") == "true", Path: sf.Tag.Get("path")}
		if f.Derived == "" {
			f.Default = def.Field(i).Interface()
		}
		out = append(out, f)
	}
	return out
}

// Fields lists every setting in declaration order.
func Fields() []Field { return append([]Field(nil), fields...) }

// Lookup returns the setting called name.
func Lookup(name string) (Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Value returns the value of field f in s.
func (s *Settings) Value(f Field) any {
	return reflect.ValueOf(s).Elem().Field(f.index).Interface()
}

// Source names the layers to load over the defaults.
type Source struct {
	// ConfigFile is a YAML file of settings; empty for none.
	ConfigFile string
	// Environ is the environment as os.Environ returns it; only SPYDER_*
	// variables are read.
	Environ []string
	// Flags maps setting names to values given on the command line.
	Flags map[string]any
}

// Load builds the effective settings from the defaults and the layers of src,
// derives the dependent settings, and validates the result. Every problem is
// reported with the setting's name and where its value came from; the error
// wraps ErrInvalid.
func Load(src Source) (*Settings, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaultsMap(), "."), nil); err != nil {
		return nil, fmt.Errorf("loading defaults: %w", err)
	}
	var problems []error
	if src.ConfigFile != "" {
		if _, err := os.Stat(src.ConfigFile); err != nil {
			return nil, fmt.Errorf("%w: config file: %v", ErrInvalid, err)
		}
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(src.ConfigFile), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %v", ErrInvalid, src.ConfigFile, err)
		}
		for _, key := range fk.Keys() {
			if _, ok := Lookup(key); !ok {
				problems = append(problems, fmt.Errorf("%s: unknown setting (in %s)%s", key, src.ConfigFile, suggest(key)))
			}
		}
		resolvePaths(fk, filepath.Dir(src.ConfigFile))
		if err := k.Merge(fk); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %v", ErrInvalid, src.ConfigFile, err)
		}
	}
	envMap, envProblems := environMap(src.Environ)
	problems = append(problems, envProblems...)
	if err := k.Load(confmap.Provider(envMap, "."), nil); err != nil {
		return nil, fmt.Errorf("%w: environment: %v", ErrInvalid, err)
	}
	for key := range src.Flags {
		if _, ok := Lookup(key); !ok {
			problems = append(problems, fmt.Errorf("%s: unknown setting (flag)", key))
		}
	}
	if err := k.Load(confmap.Provider(src.Flags, "."), nil); err != nil {
		return nil, fmt.Errorf("%w: flags: %v", ErrInvalid, err)
	}
	if len(problems) > 0 {
		return nil, invalid(problems)
	}

	s := &Settings{}
	for _, f := range fields {
		if !k.Exists(f.Name) {
			continue // derived and not set
		}
		if err := decodeField(k.Get(f.Name), reflect.ValueOf(s).Elem().Field(f.index)); err != nil {
			problems = append(problems, fmt.Errorf("%s: %v", f.Name, err))
		}
	}
	if len(problems) > 0 {
		return nil, invalid(problems)
	}
	s.derivedFrom = map[string]string{}
	for key, from := range derived {
		if !k.Exists(key) {
			s.derivedFrom[key] = from
			dst, _ := Lookup(key)
			srcField, _ := Lookup(from)
			v := reflect.ValueOf(s).Elem()
			v.Field(dst.index).Set(v.Field(srcField.index))
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// resolvePaths makes the relative paths of a config file relative to the
// file's directory, as docker-compose does: `spyder master --config
// crawl/spyder.yaml` run from crawl's parent keeps its state in crawl/ and
// finds crawl/seeds.txt. A key setting holding the key itself (not a file)
// is left alone: it is resolved only when the file exists there.
func resolvePaths(fk *koanf.Koanf, dir string) {
	for _, f := range fields {
		v, ok := fk.Get(f.Name).(string)
		if f.Path == "" || !ok || v == "" || filepath.IsAbs(v) {
			continue
		}
		p := filepath.Join(dir, v)
		if f.Path == "key" {
			if _, err := os.Stat(p); err != nil {
				continue
			}
		}
		_ = fk.Set(f.Name, p)
	}
}

func invalid(problems []error) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	sort.Strings(msgs)
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
}

func defaultsMap() map[string]any {
	d := Defaults()
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		if f.Derived == "" {
			m[f.Name] = d.Value(f)
		}
	}
	return m
}

// environMap picks the SPYDER_* variables out of environ. A list setting
// takes a JSON array ('["^https?://a/", "^https?://b/"]') or a single value.
func environMap(environ []string) (map[string]any, []error) {
	m := map[string]any{}
	var problems []error
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		f, known := Lookup(key)
		if !known {
			problems = append(problems, fmt.Errorf("%s: unknown setting (environment variable %s)%s", key, name, suggest(key)))
			continue
		}
		if f.Type.Kind() == reflect.Slice && strings.HasPrefix(strings.TrimSpace(value), "[") {
			var list []string
			if err := json.Unmarshal([]byte(value), &list); err != nil {
				problems = append(problems, fmt.Errorf("%s: environment variable %s is not a JSON array of strings: %v", key, name, err))
				continue
			}
			m[key] = list
			continue
		}
		m[key] = value
	}
	return m, problems
}

// decodeField converts a loaded value (from YAML, the environment or a flag)
// into dst, accepting strings for numbers and booleans, a single value for a
// list, and seconds or Go duration strings for durations.
func decodeField(in any, dst reflect.Value) error {
	if dst.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := parseDuration(in)
		if err != nil {
			return err
		}
		dst.SetInt(int64(d))
		return nil
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		WeaklyTypedInput: true,
		Result:           dst.Addr().Interface(),
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(in); err != nil {
		return fmt.Errorf("cannot use %s as %s", describe(in), dst.Type())
	}
	if dst.Kind() == reflect.Slice && dst.IsNil() {
		dst.Set(reflect.MakeSlice(dst.Type(), 0, 0))
	}
	return nil
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "an empty value"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// parseDuration reads seconds (a number or a numeric string) or a Go
// duration string ("500ms").
func parseDuration(in any) (time.Duration, error) {
	var secs float64
	switch v := in.(type) {
	case time.Duration:
		return v, nil
	case int:
		secs = float64(v)
	case int64:
		secs = float64(v)
	case uint64:
		secs = float64(v)
	case float64:
		secs = v
	case string:
		s := strings.TrimSpace(v)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d, derr := time.ParseDuration(s)
			if derr != nil {
				return 0, fmt.Errorf("%q is neither seconds nor a duration such as 1.5s or 500ms", v)
			}
			return d, nil
		}
		secs = f
	default:
		return 0, fmt.Errorf("cannot use %s as a duration", describe(in))
	}
	if secs > float64(1<<62)/float64(time.Second) || secs < -float64(1<<62)/float64(time.Second) {
		return 0, fmt.Errorf("%v seconds is out of range", secs)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// retired are settings of spyder that this version replaced: naming one is
// an error that says what took its place.
var retired = map[string]string{
	"remove_anchors_from_links": "; fragments are one decision, url_canonicalization's remove_fragment step (in by default): to keep fragments, leave remove_fragment out of url_canonicalization",
}

// suggest names the closest known setting for a mistyped key, or what
// replaced a retired one.
func suggest(key string) string {
	if why, ok := retired[key]; ok {
		return why
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	if best := Closest(key, names); best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	return ""
}

// Closest returns the candidate nearest to word (at most 3 edits away),
// or "": what a "did you mean" names for a mistyped setting, flag or
// command.
func Closest(word string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
